-- Version 2: whether a family is revoked, as a column, so a rotation is one conditional
-- UPDATE (a revoked family is never written back to live) instead of a locked read first.
ALTER TABLE families ADD COLUMN revoked boolean NOT NULL DEFAULT false;
UPDATE families SET revoked = true
  WHERE coalesce(jsonb_typeof(convert_from(record, 'UTF8')::jsonb -> 'revoked'), 'null') <> 'null';
