-- Demo data: realistic synthetic rows for the four auth tables, so every page and command of the
-- console shows something. The audit log spans 8 years (so some partitions are past the 7-year
-- retention); the others span their retention windows plus some expired periods.
-- Partitions are made through the migration's own functions, as an operator would.

SELECT setseed(0.42);

INSERT INTO users (email, password_hash, display_name, status, mfa_enabled, failed_login_count,
                   last_login_at, created_at, updated_at)
SELECT format('user%s@demo.rustcare.test', g),
       '$argon2id$v=19$m=19456,t=2,p=1$ZGVtb2RlbW9kZW1v$demo-not-a-real-hash',
       format('Demo User %s', g),
       (ARRAY['active', 'active', 'active', 'active', 'locked', 'disabled'])[1 + g % 6],
       g % 3 = 0,
       g % 4,
       now() - random() * interval '30 days',
       now() - (g || ' days')::interval,
       now()
FROM generate_series(1, 400) AS g;

-- Audit log: one partition per month for 8 years back; volume grows over time.
SELECT create_audit_log_partition(
           ((date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => m)))::date)
FROM generate_series(0, 96) AS m;

WITH u AS (SELECT array_agg(id) AS ids FROM users),
     ev AS (SELECT ARRAY['login', 'login', 'login', 'logout', 'token_refresh', 'password_change',
                         'mfa_challenge', 'record_view', 'record_export', 'permission_change'] AS kinds)
INSERT INTO auth_audit_log (id, "timestamp", user_id, event_type, outcome, ip_address, user_agent,
                            resource, details, request_id)
SELECT gen_random_uuid(),
       now() - interval '2920 days' * power(random(), 1.7),
       u.ids[1 + floor(random() * array_length(u.ids, 1))::int],
       ev.kinds[1 + floor(random() * array_length(ev.kinds, 1))::int],
       (ARRAY['success', 'success', 'success', 'success', 'failure', 'denied'])[1 + floor(random() * 6)::int],
       ('10.' || floor(random() * 255)::int || '.' || floor(random() * 255)::int || '.'
             || floor(random() * 255)::int)::inet,
       (ARRAY['Mozilla/5.0 (Windows NT 10.0; Win64; x64)', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)',
              'RustCare-Mobile/3.2 (iOS 17.4)', 'curl/8.5.0'])[1 + floor(random() * 4)::int],
       '/api/v1/patients/' || floor(random() * 5000)::int,
       jsonb_build_object('mfa', random() < 0.4, 'client', 'demo'),
       gen_random_uuid()
FROM generate_series(1, 30000), u, ev;

-- Sessions: daily partitions for the 90-day retention plus 10 expired days.
SELECT create_sessions_partition((now() AT TIME ZONE 'UTC')::date - d) FROM generate_series(0, 100) AS d;

WITH u AS (SELECT array_agg(id) AS ids FROM users),
     s AS (SELECT now() - random() * interval '100 days' AS created FROM generate_series(1, 15000))
INSERT INTO sessions (id, user_id, created_at, expires_at, last_seen_at, revoked_at, token_hash,
                      ip_address, user_agent)
SELECT gen_random_uuid(),
       u.ids[1 + floor(random() * array_length(u.ids, 1))::int],
       s.created,
       s.created + interval '12 hours',
       s.created + random() * interval '12 hours',
       CASE WHEN random() < 0.2 THEN s.created + random() * interval '6 hours' END,
       encode(sha256(gen_random_uuid()::text::bytea), 'hex'),
       ('192.168.' || floor(random() * 255)::int || '.' || floor(random() * 255)::int)::inet,
       'Mozilla/5.0 (X11; Linux x86_64)'
FROM s, u;

-- Refresh tokens: weekly (Monday) partitions for 60 days plus a few expired weeks.
SELECT create_refresh_tokens_partition((now() AT TIME ZONE 'UTC')::date - 7 * w)
FROM generate_series(0, 12) AS w;

WITH u AS (SELECT array_agg(id) AS ids FROM users),
     t AS (SELECT now() - random() * interval '84 days' AS created FROM generate_series(1, 6000))
INSERT INTO refresh_tokens (id, user_id, session_id, token_hash, created_at, expires_at, revoked_at)
SELECT gen_random_uuid(),
       u.ids[1 + floor(random() * array_length(u.ids, 1))::int],
       gen_random_uuid(),
       encode(sha256(gen_random_uuid()::text::bytea), 'hex'),
       t.created,
       t.created + interval '30 days',
       CASE WHEN random() < 0.1 THEN t.created + interval '1 day' END
FROM t, u;

-- Rate limits: daily partitions for the 7-day retention plus 3 expired days.
SELECT create_rate_limits_partition((now() AT TIME ZONE 'UTC')::date - d) FROM generate_series(0, 10) AS d;

INSERT INTO rate_limits (id, bucket_key, window_start, window_seconds, request_count, max_requests, blocked)
SELECT gen_random_uuid(),
       'ip:10.0.' || (g % 50) || '.' || (g % 200),
       date_trunc('minute', now() - random() * interval '10 days'),
       60,
       c,
       100,
       c > 100
FROM generate_series(1, 8000) AS g, LATERAL (SELECT floor(random() * 120)::int AS c) AS r
ON CONFLICT DO NOTHING;

SELECT create_partitions_if_needed();
