// A vendor is a team: four roles, deal owners, per-session records (so a
// person can see and end each sign-in), member invitations, OpenID Connect
// single sign-on per workspace, and an append-only audit trail.
import { type Kysely, sql } from 'kysely';

const statements = [
  // Roles: the person who signed up becomes the workspace's owner.
  `ALTER TABLE users DROP CONSTRAINT users_role_check`,
  `UPDATE users SET role = 'owner' WHERE role = 'admin'`,
  `ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('owner', 'admin', 'member', 'viewer'))`,
  `ALTER TABLE users ADD COLUMN last_sign_in_at timestamptz`,
  // A key acts with a role no higher than its creator's; keys made before roles existed were an owner's.
  `ALTER TABLE api_keys ADD COLUMN role text NOT NULL DEFAULT 'owner' CHECK (role IN ('owner', 'admin', 'member', 'viewer'))`,
  `ALTER TABLE api_keys ALTER COLUMN role DROP DEFAULT`,
  `CREATE INDEX api_keys_creator_idx ON api_keys (vendor_id, created_by) WHERE revoked_at IS NULL`,
  // Deal owners: the creator by default; otherwise the workspace's first owner.
  `ALTER TABLE deals ADD COLUMN owner_id uuid`,
  `UPDATE deals d SET owner_id = coalesce(
     (SELECT u.id FROM users u WHERE u.vendor_id = d.vendor_id AND u.id = d.created_by),
     (SELECT u.id FROM users u WHERE u.vendor_id = d.vendor_id ORDER BY (u.role = 'owner') DESC, u.created_at, u.id LIMIT 1))`,
  `ALTER TABLE deals ALTER COLUMN owner_id SET NOT NULL`,
  `ALTER TABLE deals ADD CONSTRAINT deals_owner_fkey FOREIGN KEY (vendor_id, owner_id) REFERENCES users (vendor_id, id)`,
  `CREATE INDEX deals_owner_idx ON deals (vendor_id, owner_id)`,
  // One row per signed-in browser. The session cookie names its row; ending the row ends the session.
  `CREATE TABLE user_sessions (
     vendor_id uuid NOT NULL,
     id uuid NOT NULL,
     user_id uuid NOT NULL,
     -- How the person proved who they are: an emailed link (sign-in or invitation), SSO, or a switch from a link session.
     method text NOT NULL CHECK (method IN ('link', 'invite', 'sso', 'switch')),
     ip text,
     user_agent text CHECK (length(user_agent) <= 300),
     created_at timestamptz NOT NULL,
     last_seen_at timestamptz NOT NULL,
     ended_at timestamptz,
     PRIMARY KEY (vendor_id, id),
     FOREIGN KEY (vendor_id, user_id) REFERENCES users (vendor_id, id) ON DELETE CASCADE
   )`,
  `CREATE INDEX user_sessions_user_idx ON user_sessions (vendor_id, user_id, created_at DESC)`,
  // Invitations to join a workspace. The token's hash is set when the mail is composed.
  `CREATE TABLE member_invitations (
     vendor_id uuid NOT NULL REFERENCES vendors (id),
     id uuid NOT NULL,
     email text NOT NULL CHECK (email = lower(email)),
     name text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
     role text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
     invited_by uuid,
     token_hash text UNIQUE,
     created_at timestamptz NOT NULL,
     expires_at timestamptz NOT NULL,
     accepted_at timestamptz,
     revoked_at timestamptz,
     PRIMARY KEY (vendor_id, id)
   )`,
  `CREATE UNIQUE INDEX member_invitations_pending_idx ON member_invitations (vendor_id, email) WHERE accepted_at IS NULL AND revoked_at IS NULL`,
  `CREATE INDEX member_invitations_created_idx ON member_invitations (vendor_id, created_at DESC)`,
  // OpenID Connect per workspace. client_secret is sealed (server/lib/crypto.ts).
  `CREATE TABLE sso_configs (
     vendor_id uuid PRIMARY KEY REFERENCES vendors (id),
     issuer text NOT NULL CHECK (length(issuer) <= 500),
     client_id text NOT NULL CHECK (length(client_id) <= 300),
     client_secret text NOT NULL,
     allowed_domains text[] NOT NULL DEFAULT '{}',
     require_sso boolean NOT NULL DEFAULT false,
     updated_at timestamptz NOT NULL,
     updated_by uuid,
     -- The role of whoever last saved these settings: SSO signs in nobody of a higher role, so an admin
     -- who points the workspace at a provider of their own cannot sign in as an owner through it.
     saved_by_role text NOT NULL CHECK (saved_by_role IN ('owner', 'admin', 'member', 'viewer'))
   )`,
  `CREATE INDEX sso_configs_domains_idx ON sso_configs USING gin (allowed_domains)`,
  // One row per SSO sign-in under way: used once, within ten minutes.
  `CREATE TABLE sso_states (
     state_hash text PRIMARY KEY,
     vendor_id uuid NOT NULL REFERENCES vendors (id),
     code_verifier text NOT NULL,
     nonce text NOT NULL,
     created_at timestamptz NOT NULL,
     expires_at timestamptz NOT NULL,
     used_at timestamptz
   )`,
  `CREATE INDEX sso_states_created_idx ON sso_states (created_at)`,
  // The audit trail: who changed what, when and from where. Append-only, enforced here.
  `CREATE TABLE audit_log (
     vendor_id uuid NOT NULL REFERENCES vendors (id),
     id bigint GENERATED ALWAYS AS IDENTITY,
     actor_id uuid,
     actor_name text NOT NULL,
     actor_kind text NOT NULL CHECK (actor_kind IN ('user', 'api_key', 'system')),
     action text NOT NULL,
     target_type text NOT NULL,
     target_id text,
     target_name text,
     changes jsonb NOT NULL DEFAULT '{}',
     ip text,
     created_at timestamptz NOT NULL,
     PRIMARY KEY (vendor_id, id)
   )`,
  `CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     RAISE EXCEPTION 'the audit trail is append-only: % is not allowed', TG_OP
       USING ERRCODE = 'insufficient_privilege';
   END $$`,
  `CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
     FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only()`,
  `CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
     FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only()`,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of statements) {
    await sql.raw(statement).execute(db);
  }
}
