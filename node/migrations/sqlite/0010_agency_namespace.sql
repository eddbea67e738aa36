-- Other nodes' agencies under their node's name (`<node>/<id>`, PROTOCOL section 9.1). Before that rule a
-- `node.agencies` event stored another node's agency under its bare id; such rows, the parents they name, the
-- reports and officers that name them and the SMS keywords that point at them are renamed here. Rows already
-- stored under the new name (a node that applied a newer `node.agencies` before this migration) are kept and
-- the old row folded into them. Timeline entries are immutable and keep the id they were written with.
--
-- Copies first, under a temporary path (paths are unique), so no reference ever points at a missing row.
INSERT INTO agencies (id, parent_id, path, name, kind, region_code, active, created_at, node_id)
SELECT a.node_id || '/' || a.id,
       CASE WHEN EXISTS (SELECT 1 FROM agencies p WHERE p.id = a.parent_id AND p.node_id = a.node_id)
            THEN a.node_id || '/' || a.parent_id
            WHEN a.parent_id LIKE '%/%' THEN a.parent_id
            ELSE NULL END,
       '#' || a.path, a.name, a.kind, a.region_code, a.active, a.created_at, a.node_id
FROM agencies a
WHERE a.node_id IS NOT NULL AND a.id NOT LIKE '%/%'
  AND NOT EXISTS (SELECT 1 FROM agencies n WHERE n.id = a.node_id || '/' || a.id);

UPDATE users SET agency_id = (SELECT a.node_id || '/' || a.id FROM agencies a WHERE a.id = users.agency_id)
WHERE agency_id IN (SELECT id FROM agencies WHERE node_id IS NOT NULL AND id NOT LIKE '%/%');

UPDATE reports SET agency_id = (SELECT a.node_id || '/' || a.id FROM agencies a WHERE a.id = reports.agency_id)
WHERE agency_id IN (SELECT id FROM agencies WHERE node_id IS NOT NULL AND id NOT LIKE '%/%');

UPDATE sms_keywords SET agency_id = origin || '/' || agency_id
WHERE agency_id IS NOT NULL AND agency_id NOT LIKE '%/%'
  AND EXISTS (SELECT 1 FROM agencies a WHERE a.id = sms_keywords.origin || '/' || sms_keywords.agency_id);

DELETE FROM agencies WHERE node_id IS NOT NULL AND id NOT LIKE '%/%';

UPDATE agencies SET path = substr(path, 2) WHERE path LIKE '#%';
