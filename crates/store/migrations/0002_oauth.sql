-- Switchboard schema, version 2: the OAuth authorization server. Portable SQL, as 0001.
-- Times written by the OAuth code are RFC 3339 UTC text with whole seconds
-- ("2026-01-02T03:04:05Z"), so that they compare correctly as text.

-- Revoke-all: every access token of the user issued at or before this instant is refused.
ALTER TABLE enduser ADD COLUMN oauth_revoked_before TEXT;

-- The scope a refresh token was granted (its rotations may narrow it, never widen it).
ALTER TABLE oauthrefreshtoken ADD COLUMN scope TEXT NOT NULL DEFAULT '';

-- OAuth clients. All are public clients (no secret; PKCE for the authorization code flow).
-- `kind` chooses the refresh-token lifetime: jabber (softphones), phone, app.
CREATE TABLE oauthclient (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('jabber', 'phone', 'app')),
    redirect_uris TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL
);

-- Other issuers whose access tokens this cluster accepts, verified against their JWKS.
CREATE TABLE oauthissuer (
    issuer TEXT PRIMARY KEY,
    jwks_json TEXT NOT NULL,
    audience TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Authorization codes (stored hashed; single use, short-lived). A redeemed code keeps the ids
-- of what it was exchanged for, so that a second redemption can revoke them (RFC 6749 §4.1.2).
CREATE TABLE oauthcode (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    userid TEXT NOT NULL REFERENCES enduser (userid) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    scope TEXT NOT NULL,
    device TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    family_id TEXT,
    access_jti TEXT
);

-- Access tokens revoked one by one (RFC 7009), by their jti, until they expire.
CREATE TABLE oauthrevokedtoken (
    jti TEXT PRIMARY KEY,
    userid TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT NOT NULL
);

CREATE INDEX refresh_revoked ON oauthrefreshtoken (revoked_at);
CREATE INDEX code_expiry ON oauthcode (expires_at);
CREATE INDEX revoked_token_expiry ON oauthrevokedtoken (expires_at);
