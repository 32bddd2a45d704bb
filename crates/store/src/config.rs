//! Cluster configuration: security profiles, nodes and their ports, enterprise parameters,
//! edge-proxy entries and the LDAP authentication settings.

use crate::error::{Result, StoreError};
use crate::model::*;
use crate::params::{self, PARAMS};
use crate::validate::{self, DEFAULT_LDAP_FILTER};
use crate::{audit, audit_detail, db, now, Store};

#[derive(sqlx::FromRow)]
struct ProfileRow {
    name: String,
    description: String,
    product_type: String,
    device_security_mode: String,
    transport: String,
    tftp_encrypted_config: bool,
    digest_auth: bool,
    oauth_auth: bool,
}

fn enum_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn enum_parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| StoreError::Query(format!("unexpected stored value '{text}'")))
}

impl ProfileRow {
    fn into_profile(self) -> Result<SecurityProfile> {
        Ok(SecurityProfile {
            name: self.name,
            description: self.description,
            product_type: self.product_type,
            device_security_mode: enum_parse(&self.device_security_mode)?,
            transport: enum_parse(&self.transport)?,
            tftp_encrypted_config: self.tftp_encrypted_config,
            digest_auth: self.digest_auth,
            oauth_auth: self.oauth_auth,
        })
    }
}

#[derive(sqlx::FromRow)]
struct NodeRow {
    name: String,
    address: String,
    description: String,
    priority: i64,
    ethernet_phone_port: i64,
    mgcp_listen_port: i64,
    mgcp_keepalive_port: i64,
    sip_port: i64,
    sip_secure_port: i64,
    sip_oauth_port: i64,
    sip_mra_oauth_port: i64,
    cti_port: i64,
    cti_tls_port: i64,
    config_http_port: i64,
    https_port: i64,
}

impl From<NodeRow> for Node {
    fn from(r: NodeRow) -> Node {
        let p = |v: i64| v as u32;
        Node {
            name: r.name,
            address: r.address,
            description: r.description,
            priority: r.priority as u32,
            ports: NodePorts {
                ethernet_phone: p(r.ethernet_phone_port),
                mgcp_listen: p(r.mgcp_listen_port),
                mgcp_keepalive: p(r.mgcp_keepalive_port),
                sip: p(r.sip_port),
                sip_secure: p(r.sip_secure_port),
                sip_oauth: p(r.sip_oauth_port),
                sip_mra_oauth: p(r.sip_mra_oauth_port),
                cti: p(r.cti_port),
                cti_tls: p(r.cti_tls_port),
                config_http: p(r.config_http_port),
                https: p(r.https_port),
            },
        }
    }
}

/// host, port, tls_mode, ca_pem of one `ldapserver` row.
type LdapServerRow = (String, i64, String, Option<String>);

#[derive(sqlx::FromRow)]
struct LdapRow {
    enabled: bool,
    service_dn: String,
    service_password_enc: Option<String>,
    search_bases: String,
    filter_template: String,
    userid_attribute: String,
}

impl Store {
    /// Every phone security profile.
    pub async fn list_profiles(&self) -> Result<Vec<SecurityProfile>> {
        let rows: Vec<ProfileRow> = db!(self, |pool| {
            sqlx::query_as(
                "SELECT name, description, product_type, device_security_mode, transport, \
                 tftp_encrypted_config, digest_auth, oauth_auth FROM securityprofile ORDER BY name",
            )
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(ProfileRow::into_profile).collect()
    }

    /// One phone security profile.
    pub async fn get_profile(&self, name: &str) -> Result<SecurityProfile> {
        self.list_profiles()
            .await?
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| StoreError::not_found("security profile", name))
    }

    /// Creates a security profile (`replace` = false) or replaces an existing one.
    pub async fn put_profile(
        &self,
        actor: &str,
        profile: &SecurityProfile,
        replace: bool,
    ) -> Result<SecurityProfile> {
        validate::profile(profile)?;
        let at = now();
        let exists = self.get_profile(&profile.name).await.is_ok();
        if exists && !replace {
            return Err(StoreError::conflict(
                "security profile",
                &profile.name,
                "already exists",
            ));
        }
        if !exists && replace {
            return Err(StoreError::not_found("security profile", &profile.name));
        }
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO securityprofile (name, description, product_type, device_protocol, \
                 device_security_mode, transport, tftp_encrypted_config, digest_auth, oauth_auth, \
                 created_at, updated_at) VALUES ($1, $2, $3, 'SIP', $4, $5, $6, $7, $8, $9, $9) \
                 ON CONFLICT (name) DO UPDATE SET description = $2, product_type = $3, \
                 device_security_mode = $4, transport = $5, tftp_encrypted_config = $6, \
                 digest_auth = $7, oauth_auth = $8, updated_at = $9",
            )
            .bind(&profile.name)
            .bind(&profile.description)
            .bind(&profile.product_type)
            .bind(enum_text(&profile.device_security_mode))
            .bind(enum_text(&profile.transport))
            .bind(profile.tftp_encrypted_config)
            .bind(profile.digest_auth)
            .bind(profile.oauth_auth)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
            let action = if replace { "update" } else { "create" };
            audit!(
                tx,
                actor,
                action,
                "securityprofile",
                &profile.name,
                audit_detail(profile)
            );
            tx.commit().await?;
        });
        self.get_profile(&profile.name).await
    }

    /// Changes the fields given in `patch`; the result must satisfy every profile rule.
    pub async fn update_profile(
        &self,
        actor: &str,
        name: &str,
        patch: &SecurityProfilePatch,
    ) -> Result<SecurityProfile> {
        let c = self.get_profile(name).await?;
        let updated = SecurityProfile {
            name: c.name,
            description: patch.description.clone().unwrap_or(c.description),
            product_type: patch.product_type.clone().unwrap_or(c.product_type),
            device_security_mode: patch.device_security_mode.unwrap_or(c.device_security_mode),
            transport: patch.transport.unwrap_or(c.transport),
            tftp_encrypted_config: patch
                .tftp_encrypted_config
                .unwrap_or(c.tftp_encrypted_config),
            digest_auth: patch.digest_auth.unwrap_or(c.digest_auth),
            oauth_auth: patch.oauth_auth.unwrap_or(c.oauth_auth),
        };
        self.put_profile(actor, &updated, true).await
    }

    /// Deletes a security profile; refused while a device uses it.
    pub async fn delete_profile(&self, actor: &str, name: &str) -> Result<()> {
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let users: Vec<(String,)> =
                sqlx::query_as("SELECT name FROM device WHERE security_profile = $1 ORDER BY name")
                    .bind(name)
                    .fetch_all(&mut *tx)
                    .await?;
            if !users.is_empty() {
                let names: Vec<_> = users.into_iter().map(|(n,)| n).collect();
                return Err(StoreError::conflict(
                    "security profile",
                    name,
                    format!("still used by device(s) {}", names.join(", ")),
                ));
            }
            let done = sqlx::query("DELETE FROM securityprofile WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::not_found("security profile", name));
            }
            audit!(tx, actor, "delete", "securityprofile", name, "{}");
            tx.commit().await?;
        });
        Ok(())
    }

    /// Every node, in call-manager-group order.
    pub async fn list_nodes(&self) -> Result<Vec<Node>> {
        let rows: Vec<NodeRow> = db!(self, |pool| {
            sqlx::query_as(
                "SELECT name, address, description, priority, ethernet_phone_port, mgcp_listen_port, \
                 mgcp_keepalive_port, sip_port, sip_secure_port, sip_oauth_port, sip_mra_oauth_port, \
                 cti_port, cti_tls_port, config_http_port, https_port FROM callmanager \
                 ORDER BY priority, name",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Node::from).collect())
    }

    /// One node.
    pub async fn get_node(&self, name: &str) -> Result<Node> {
        self.list_nodes()
            .await?
            .into_iter()
            .find(|n| n.name == name)
            .ok_or_else(|| StoreError::not_found("node", name))
    }

    /// Creates a node, or replaces it when `replace` is set.
    pub async fn put_node(&self, actor: &str, node: &Node, replace: bool) -> Result<Node> {
        validate::node(node)?;
        let exists = self.get_node(&node.name).await.is_ok();
        if exists && !replace {
            return Err(StoreError::conflict("node", &node.name, "already exists"));
        }
        if !exists && replace {
            return Err(StoreError::not_found("node", &node.name));
        }
        let p = node.ports;
        let at = now();
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO callmanager (name, address, description, priority, ethernet_phone_port, \
                 mgcp_listen_port, mgcp_keepalive_port, sip_port, sip_secure_port, sip_oauth_port, \
                 sip_mra_oauth_port, cti_port, cti_tls_port, config_http_port, https_port, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16) \
                 ON CONFLICT (name) DO UPDATE SET address = $2, description = $3, priority = $4, \
                 ethernet_phone_port = $5, mgcp_listen_port = $6, mgcp_keepalive_port = $7, sip_port = $8, \
                 sip_secure_port = $9, sip_oauth_port = $10, sip_mra_oauth_port = $11, cti_port = $12, \
                 cti_tls_port = $13, config_http_port = $14, https_port = $15, updated_at = $16",
            )
            .bind(&node.name)
            .bind(&node.address)
            .bind(&node.description)
            .bind(node.priority as i64)
            .bind(p.ethernet_phone as i64)
            .bind(p.mgcp_listen as i64)
            .bind(p.mgcp_keepalive as i64)
            .bind(p.sip as i64)
            .bind(p.sip_secure as i64)
            .bind(p.sip_oauth as i64)
            .bind(p.sip_mra_oauth as i64)
            .bind(p.cti as i64)
            .bind(p.cti_tls as i64)
            .bind(p.config_http as i64)
            .bind(p.https as i64)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
            let action = if replace { "update" } else { "create" };
            audit!(
                tx,
                actor,
                action,
                "callmanager",
                &node.name,
                audit_detail(node)
            );
            tx.commit().await?;
        });
        self.get_node(&node.name).await
    }

    /// Changes the fields given in `patch`; the result must satisfy every node rule.
    pub async fn update_node(&self, actor: &str, name: &str, patch: &NodePatch) -> Result<Node> {
        let c = self.get_node(name).await?;
        let updated = Node {
            name: c.name,
            address: patch.address.clone().unwrap_or(c.address),
            description: patch.description.clone().unwrap_or(c.description),
            priority: patch.priority.unwrap_or(c.priority),
            ports: patch.ports.as_ref().map_or(c.ports, |p| p.apply(c.ports)),
        };
        self.put_node(actor, &updated, true).await
    }

    /// Deletes a node.
    pub async fn delete_node(&self, actor: &str, name: &str) -> Result<()> {
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query("DELETE FROM callmanager WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::not_found("node", name));
            }
            audit!(tx, actor, "delete", "callmanager", name, "{}");
            tx.commit().await?;
        });
        Ok(())
    }

    /// Every known parameter with its current value.
    pub async fn list_params(&self) -> Result<Vec<Param>> {
        let rows: Vec<(String, String)> = db!(self, |pool| {
            sqlx::query_as("SELECT paramname, paramvalue FROM processconfig")
                .fetch_all(pool)
                .await?
        });
        Ok(PARAMS
            .iter()
            .map(|def| Param {
                name: def.name.to_string(),
                value: rows
                    .iter()
                    .find(|(n, _)| n == def.name)
                    .map_or(def.default.to_string(), |(_, v)| v.clone()),
                default: def.default.to_string(),
                description: def.description.to_string(),
            })
            .collect())
    }

    /// One parameter's value (its default when never set).
    pub async fn get_param(&self, name: &str) -> Result<Param> {
        params::definition(name)?;
        self.list_params()
            .await?
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| StoreError::not_found("parameter", name))
    }

    /// A parameter's value as an integer (every known parameter is one).
    pub async fn param_i64(&self, name: &str) -> Result<i64> {
        let param = self.get_param(name).await?;
        param
            .value
            .parse()
            .map_err(|_| StoreError::Query(format!("parameter {name} holds '{}'", param.value)))
    }

    /// Sets a parameter after checking the value against its definition.
    pub async fn set_param(&self, actor: &str, name: &str, value: &str) -> Result<Param> {
        let def = params::definition(name)?;
        let value = params::check_value(def, value)?;
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO processconfig (paramname, paramvalue, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (paramname) DO UPDATE SET paramvalue = $2, updated_at = $3",
            )
            .bind(name)
            .bind(&value)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            let detail = serde_json::json!({ "value": value }).to_string();
            audit!(tx, actor, "update", "processconfig", name, detail);
            tx.commit().await?;
        });
        self.get_param(name).await
    }

    /// Writes every parameter that has no row yet with its default, so `processconfig` can be
    /// queried directly (`switchboard sql`). Not audited: nothing changes in effect.
    pub async fn ensure_param_defaults(&self) -> Result<()> {
        for def in PARAMS {
            db!(self, |pool| {
                sqlx::query(
                    "INSERT INTO processconfig (paramname, paramvalue, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (paramname) DO NOTHING",
                )
                .bind(def.name)
                .bind(def.default)
                .bind(now())
                .execute(pool)
                .await?;
            });
        }
        Ok(())
    }

    /// Every edge-proxy entry.
    pub async fn list_expressways(&self) -> Result<Vec<Expressway>> {
        let rows: Vec<(String, String, String, String)> = db!(self, |pool| {
            sqlx::query_as(
                "SELECT pkid, hostnameorip, description, x509subjectnameoraltname \
                 FROM expresswayconfiguration ORDER BY hostnameorip",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(pkid, hostnameorip, description, x509subjectnameoraltname)| Expressway {
                    pkid,
                    hostnameorip,
                    description,
                    x509subjectnameoraltname,
                },
            )
            .collect())
    }

    /// One edge-proxy entry, by pkid or host name.
    pub async fn get_expressway(&self, key: &str) -> Result<Expressway> {
        self.list_expressways()
            .await?
            .into_iter()
            .find(|e| e.pkid == key || e.hostnameorip == key)
            .ok_or_else(|| StoreError::not_found("expressway", key))
    }

    /// Adds an edge-proxy entry, or replaces the one with the same host name (an edge proxy
    /// pushes its names again on every refresh).
    pub async fn put_expressway(&self, actor: &str, entry: &ExpresswayNew) -> Result<Expressway> {
        validate::expressway(entry)?;
        let pkid = match self.get_expressway(&entry.hostnameorip).await {
            Ok(existing) => existing.pkid,
            Err(_) => uuid::Uuid::new_v4().to_string(),
        };
        let names: Vec<&str> = entry
            .x509subjectnameoraltname
            .split(',')
            .map(str::trim)
            .collect();
        let names = names.join(",");
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO expresswayconfiguration (pkid, hostnameorip, description, x509subjectnameoraltname) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (pkid) DO UPDATE SET description = $3, \
                 x509subjectnameoraltname = $4",
            )
            .bind(&pkid)
            .bind(&entry.hostnameorip)
            .bind(&entry.description)
            .bind(&names)
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                "put",
                "expresswayconfiguration",
                &pkid,
                audit_detail(entry)
            );
            tx.commit().await?;
        });
        self.get_expressway(&pkid).await
    }

    /// Deletes an edge-proxy entry by pkid or host name.
    pub async fn delete_expressway(&self, actor: &str, key: &str) -> Result<()> {
        let entry = self.get_expressway(key).await?;
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM expresswayconfiguration WHERE pkid = $1")
                .bind(&entry.pkid)
                .execute(&mut *tx)
                .await?;
            audit!(
                tx,
                actor,
                "delete",
                "expresswayconfiguration",
                &entry.pkid,
                "{}"
            );
            tx.commit().await?;
        });
        Ok(())
    }

    /// The LDAP authentication settings (defaults when never set).
    pub async fn ldap_settings(&self) -> Result<LdapSettings> {
        let (row, servers): (Option<LdapRow>, Vec<LdapServerRow>) = db!(self, |pool| {
            (
                sqlx::query_as(
                    "SELECT enabled, service_dn, service_password_enc, search_bases, filter_template, \
                     userid_attribute FROM ldapauthentication WHERE id = 1",
                )
                .fetch_optional(pool)
                .await?,
                sqlx::query_as("SELECT host, port, tls_mode, ca_pem FROM ldapserver ORDER BY position")
                    .fetch_all(pool)
                    .await?,
            )
        });
        let servers = servers
            .into_iter()
            .map(|(host, port, tls, ca_pem)| {
                Ok(LdapServer {
                    host,
                    port: port as u32,
                    tls: enum_parse(&tls)?,
                    ca_pem,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(match row {
            Some(r) => LdapSettings {
                enabled: r.enabled,
                servers,
                service_dn: r.service_dn,
                has_service_password: r.service_password_enc.is_some(),
                search_bases: serde_json::from_str(&r.search_bases).unwrap_or_default(),
                filter_template: r.filter_template,
                userid_attribute: r.userid_attribute,
            },
            None => LdapSettings {
                enabled: false,
                servers,
                service_dn: String::new(),
                has_service_password: false,
                search_bases: Vec::new(),
                filter_template: DEFAULT_LDAP_FILTER.to_string(),
                userid_attribute: "sAMAccountName".to_string(),
            },
        })
    }

    /// The LDAP service-account password, unsealed (for the directory client only).
    pub async fn ldap_service_password(&self) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> = db!(self, |pool| {
            sqlx::query_as("SELECT service_password_enc FROM ldapauthentication WHERE id = 1")
                .fetch_optional(pool)
                .await?
        });
        Ok(row
            .and_then(|(sealed,)| sealed)
            .and_then(|sealed| self.crypto().unseal(&sealed)))
    }

    /// Changes the LDAP settings given in `patch`; the result must satisfy every LDAP rule.
    pub async fn update_ldap(
        &self,
        actor: &str,
        patch: &LdapSettingsPatch,
    ) -> Result<LdapSettings> {
        let c = self.ldap_settings().await?;
        let updated = LdapSettings {
            enabled: patch.enabled.unwrap_or(c.enabled),
            servers: patch.servers.clone().unwrap_or(c.servers),
            service_dn: patch.service_dn.clone().unwrap_or(c.service_dn),
            has_service_password: c.has_service_password || patch.service_password.is_some(),
            search_bases: patch.search_bases.clone().unwrap_or(c.search_bases),
            filter_template: patch.filter_template.clone().unwrap_or(c.filter_template),
            userid_attribute: patch.userid_attribute.clone().unwrap_or(c.userid_attribute),
        };
        validate::ldap(&updated, patch.service_password.as_deref())?;
        let sealed = patch
            .service_password
            .as_deref()
            .map(|p| self.crypto().seal(p));
        let bases = serde_json::to_string(&updated.search_bases).unwrap_or_else(|_| "[]".into());
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO ldapauthentication (id, enabled, service_dn, service_password_enc, search_bases, \
                 filter_template, userid_attribute, updated_at) VALUES (1, $1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (id) DO UPDATE SET enabled = $1, service_dn = $2, \
                 service_password_enc = COALESCE($3, ldapauthentication.service_password_enc), \
                 search_bases = $4, filter_template = $5, userid_attribute = $6, updated_at = $7",
            )
            .bind(updated.enabled)
            .bind(&updated.service_dn)
            .bind(&sealed)
            .bind(&bases)
            .bind(&updated.filter_template)
            .bind(&updated.userid_attribute)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            if patch.servers.is_some() {
                sqlx::query("DELETE FROM ldapserver")
                    .execute(&mut *tx)
                    .await?;
                for (i, s) in updated.servers.iter().enumerate() {
                    sqlx::query("INSERT INTO ldapserver (position, host, port, tls_mode, ca_pem) VALUES ($1, $2, $3, $4, $5)")
                        .bind(i as i64 + 1)
                        .bind(&s.host)
                        .bind(s.port as i64)
                        .bind(enum_text(&s.tls))
                        .bind(&s.ca_pem)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            audit!(
                tx,
                actor,
                "update",
                "ldapauthentication",
                "1",
                audit_detail(patch)
            );
            tx.commit().await?;
        });
        self.ldap_settings().await
    }
}
