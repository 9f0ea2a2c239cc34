-- no-transaction
-- 007 down: removes the console's accounts, login attempts and sessions.
BEGIN;
DROP TABLE IF EXISTS console_sessions;
DROP TABLE IF EXISTS console_login_attempts;
DROP TABLE IF EXISTS console_users;
COMMIT;
