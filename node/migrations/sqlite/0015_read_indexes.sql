-- Indexes the read paths need (issue 16). Lists and statistics of one agency filter on reports.agency_id
-- (`ReportFilter::agency_id`, `FactQuery` with an agency): without this index each scanned the whole table.
-- With the submission time second, one agency's reports of a period are one index range.
CREATE INDEX IF NOT EXISTS reports_agency ON reports (agency_id, submitted_at);
