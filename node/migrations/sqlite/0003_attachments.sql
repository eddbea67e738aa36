-- Attachments: the bytes are content-addressed files under the data directory; a row ties them to a report.

CREATE TABLE attachments (
    report_id  TEXT NOT NULL REFERENCES reports (id),
    sha256     TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    file_name  TEXT NOT NULL,
    added_by   TEXT NOT NULL,
    added_at   INTEGER NOT NULL,
    PRIMARY KEY (report_id, sha256)
);
