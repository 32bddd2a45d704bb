-- Switchboard schema, version 1. Portable SQL: the same file creates the schema on SQLite and
-- PostgreSQL (TEXT, BIGINT, BOOLEAN, CHECK and foreign keys only). Table names follow the Cisco
-- UCM names the seeds show (processconfig, callmanager, expresswayconfiguration, enduser, ...).
-- Timestamps are RFC 3339 UTC text, identifiers are UUID text.

CREATE TABLE enduser (
    userid TEXT PRIMARY KEY,
    display_name TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'ldap')),
    password_hash TEXT,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    cti_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    super_provider BOOLEAN NOT NULL DEFAULT FALSE,
    call_park_retrieval_allowed BOOLEAN NOT NULL DEFAULT FALSE,
    modify_calling_number BOOLEAN NOT NULL DEFAULT FALSE,
    call_monitor BOOLEAN NOT NULL DEFAULT FALSE,
    call_record BOOLEAN NOT NULL DEFAULT FALSE,
    failed_logons BIGINT NOT NULL DEFAULT 0,
    locked_until TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE securityprofile (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    product_type TEXT NOT NULL,
    device_protocol TEXT NOT NULL DEFAULT 'SIP' CHECK (device_protocol IN ('SIP')),
    device_security_mode TEXT NOT NULL CHECK (device_security_mode IN ('non_secure', 'authenticated', 'encrypted')),
    transport TEXT NOT NULL CHECK (transport IN ('udp', 'tcp', 'tcp_udp', 'tls')),
    tftp_encrypted_config BOOLEAN NOT NULL DEFAULT FALSE,
    digest_auth BOOLEAN NOT NULL DEFAULT FALSE,
    oauth_auth BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CHECK (NOT (oauth_auth AND (digest_auth OR tftp_encrypted_config)))
);

CREATE TABLE device (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    product TEXT NOT NULL,
    device_class TEXT NOT NULL CHECK (device_class IN ('deskphone', 'softphone')),
    protocol TEXT NOT NULL DEFAULT 'SIP' CHECK (protocol IN ('SIP')),
    owner_userid TEXT REFERENCES enduser (userid),
    security_profile TEXT NOT NULL REFERENCES securityprofile (name),
    digest_user TEXT,
    digest_secret TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- The devices an end user controls through CTI (CUCM's enduserdevicemap).
CREATE TABLE enduserdevicemap (
    userid TEXT NOT NULL REFERENCES enduser (userid) ON DELETE CASCADE,
    device TEXT NOT NULL REFERENCES device (name) ON DELETE CASCADE,
    PRIMARY KEY (userid, device)
);

-- Directory numbers.
CREATE TABLE line (
    dn TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    alerting_name TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Which line appears on which button of a device (CUCM's devicenumplanmap).
CREATE TABLE devicenumplanmap (
    device TEXT NOT NULL REFERENCES device (name) ON DELETE CASCADE,
    numplanindex BIGINT NOT NULL CHECK (numplanindex BETWEEN 1 AND 64),
    dn TEXT NOT NULL REFERENCES line (dn),
    PRIMARY KEY (device, numplanindex),
    UNIQUE (device, dn)
);

-- Enterprise and service parameters.
CREATE TABLE processconfig (
    paramname TEXT PRIMARY KEY,
    paramvalue TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Nodes of the cluster and their ports (System > Cisco Unified CM).
CREATE TABLE callmanager (
    name TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    priority BIGINT NOT NULL DEFAULT 1,
    ethernet_phone_port BIGINT NOT NULL CHECK (ethernet_phone_port BETWEEN 1024 AND 49151),
    mgcp_listen_port BIGINT NOT NULL CHECK (mgcp_listen_port BETWEEN 1024 AND 49151),
    mgcp_keepalive_port BIGINT NOT NULL CHECK (mgcp_keepalive_port BETWEEN 1024 AND 49151),
    sip_port BIGINT NOT NULL CHECK (sip_port BETWEEN 1024 AND 49151),
    sip_secure_port BIGINT NOT NULL CHECK (sip_secure_port BETWEEN 1024 AND 49151),
    sip_oauth_port BIGINT NOT NULL CHECK (sip_oauth_port BETWEEN 1024 AND 49151),
    sip_mra_oauth_port BIGINT NOT NULL CHECK (sip_mra_oauth_port BETWEEN 1024 AND 49151),
    cti_port BIGINT NOT NULL CHECK (cti_port BETWEEN 1024 AND 49151),
    cti_tls_port BIGINT NOT NULL CHECK (cti_tls_port BETWEEN 1024 AND 49151),
    config_http_port BIGINT NOT NULL CHECK (config_http_port BETWEEN 1024 AND 49151),
    https_port BIGINT NOT NULL CHECK (https_port BETWEEN 1024 AND 49151),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Edge proxies (Expressway-C) and the CN/SAN list they pushed (004 "Verificar", step 2).
CREATE TABLE expresswayconfiguration (
    pkid TEXT PRIMARY KEY,
    hostnameorip TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    x509subjectnameoraltname TEXT NOT NULL
);

-- LDAP authentication: one settings row and up to three servers, tried in order.
CREATE TABLE ldapauthentication (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    enabled BOOLEAN NOT NULL DEFAULT FALSE,
    service_dn TEXT NOT NULL DEFAULT '',
    service_password_enc TEXT,
    search_bases TEXT NOT NULL DEFAULT '[]',
    filter_template TEXT NOT NULL,
    userid_attribute TEXT NOT NULL DEFAULT 'sAMAccountName',
    updated_at TEXT NOT NULL
);

CREATE TABLE ldapserver (
    position BIGINT PRIMARY KEY CHECK (position BETWEEN 1 AND 3),
    host TEXT NOT NULL,
    port BIGINT NOT NULL CHECK (port BETWEEN 1 AND 65535),
    tls_mode TEXT NOT NULL CHECK (tls_mode IN ('plain', 'ldaps', 'starttls')),
    ca_pem TEXT
);

-- OAuth signing keys (rotation by kid) and refresh tokens (stored hashed only).
CREATE TABLE oauthkey (
    kid TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL,
    private_key_enc TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at TEXT NOT NULL,
    retired_at TEXT
);

CREATE TABLE oauthrefreshtoken (
    token_hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    userid TEXT NOT NULL REFERENCES enduser (userid) ON DELETE CASCADE,
    device TEXT,
    client_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    rotated_at TEXT,
    revoked_at TEXT
);

-- The cluster's tomcat-trust store: CA certificates that client certificates are checked against.
CREATE TABLE trustcert (
    fingerprint TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    not_after TEXT NOT NULL,
    pem TEXT NOT NULL,
    added_at TEXT NOT NULL
);

-- Administrators of the provisioning API and their tokens (stored hashed only).
CREATE TABLE adminuser (
    userid TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE admintoken (
    token_hash TEXT PRIMARY KEY,
    userid TEXT NOT NULL REFERENCES adminuser (userid) ON DELETE CASCADE,
    description TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);

-- Per-node trace levels, set live with `switchboard trace level`.
CREATE TABLE tracelevel (
    node TEXT NOT NULL,
    service TEXT NOT NULL,
    level TEXT NOT NULL,
    PRIMARY KEY (node, service)
);

-- Every change made through the provisioning API. Ids are time-ordered UUIDs (v7).
CREATE TABLE auditlog (
    id TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX device_owner ON device (owner_userid);
CREATE INDEX refresh_family ON oauthrefreshtoken (family_id);
CREATE INDEX refresh_user ON oauthrefreshtoken (userid);
