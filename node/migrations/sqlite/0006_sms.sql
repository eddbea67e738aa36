-- SMS 1708: the keywords other nodes publish with their agencies (`node.agencies`), so an SMS that names
-- another node's keyword is routed there. Replaced whole per origin; a keyword belongs to the first origin
-- that published it. This node's own keywords are configuration (`[sms]`), not rows.
CREATE TABLE sms_keywords (
    keyword   TEXT PRIMARY KEY,
    origin    TEXT NOT NULL,
    agency_id TEXT
);
CREATE INDEX sms_keywords_origin ON sms_keywords (origin);
