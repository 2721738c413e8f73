-- Claimsmith's PostgreSQL schema, version 1. Every table is keyed by tenant first; every
-- identifier is compared byte for byte (COLLATE "C"), so order and equality are the same as
-- on the embedded store. Records are the same JSON as there, as bytes.
CREATE TABLE meta (name text COLLATE "C" PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE tenants (id text COLLATE "C" PRIMARY KEY, record bytea NOT NULL);
CREATE TABLE hosts (host text COLLATE "C" PRIMARY KEY, tenant text COLLATE "C" NOT NULL);
CREATE TABLE keys (
  tenant text COLLATE "C", kid text COLLATE "C", record bytea NOT NULL,
  PRIMARY KEY (tenant, kid));
CREATE TABLE clients (
  tenant text COLLATE "C", client_id text COLLATE "C", record bytea NOT NULL,
  PRIMARY KEY (tenant, client_id));
CREATE TABLE apis (
  tenant text COLLATE "C", identifier text COLLATE "C", record bytea NOT NULL,
  PRIMARY KEY (tenant, identifier));
CREATE TABLE users (
  tenant text COLLATE "C", user_id text COLLATE "C", record bytea NOT NULL,
  PRIMARY KEY (tenant, user_id));
CREATE TABLE logins (
  tenant text COLLATE "C", login text COLLATE "C", user_id text COLLATE "C" NOT NULL,
  PRIMARY KEY (tenant, login));
CREATE TABLE rule_sets (tenant text COLLATE "C" PRIMARY KEY, record bytea NOT NULL);
CREATE TABLE modules (
  tenant text COLLATE "C", hash text COLLATE "C", bytes bytea NOT NULL,
  PRIMARY KEY (tenant, hash));
CREATE TABLE families (
  tenant text COLLATE "C", id text COLLATE "C",
  user_id text COLLATE "C" NOT NULL, client_id text COLLATE "C" NOT NULL,
  version bigint NOT NULL, record bytea NOT NULL,
  PRIMARY KEY (tenant, id));
CREATE INDEX families_by_user ON families (tenant, user_id, client_id, id);
CREATE TABLE userinfo (
  tenant text COLLATE "C", user_id text COLLATE "C", client_id text COLLATE "C",
  claims bytea NOT NULL,
  PRIMARY KEY (tenant, user_id, client_id));
CREATE TABLE logs (
  tenant text COLLATE "C", id text COLLATE "C", record bytea NOT NULL,
  PRIMARY KEY (tenant, id));
CREATE TABLE flows (
  tenant text COLLATE "C", kind text COLLATE "C", id text COLLATE "C",
  version bigint NOT NULL, expires_at bigint NOT NULL, body bytea NOT NULL,
  PRIMARY KEY (tenant, kind, id));
