-- no-transaction
-- 001 down: removes the users table and its trigger function.
BEGIN;
DROP TABLE IF EXISTS users;
DROP FUNCTION IF EXISTS rustcare_touch_updated_at();
COMMIT;
