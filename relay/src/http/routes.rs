//! The per-tenant webhook routes (/webhook/{slug}), kept in memory: each active tenant's app
//! secret and verify token hash. A request is checked against them before the database or a
//! credential is touched, and an unknown slug is answered like a bad signature, so strangers
//! learn nothing and write nothing. The copy follows the tenants: read at start, again at every
//! NOTIFY alphadome_tenants (a trigger on bot_tenants), and every minute besides; a tenant's
//! app secret is decrypted (and audited) only when its row changed.
use crate::contract::Secret;
use deadpool_postgres::Pool;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::RwLock;
use subtle::ConstantTimeEq;

pub struct Route {
    pub tenant_id: String,
    changed_at: std::time::SystemTime,
    pub app_secret: Option<Secret>,
    verify_token_sha256: Option<Vec<u8>>,
}

impl Route {
    /// Does `token` hash to the tenant's stored verify token hash? (constant time)
    pub fn verify_token_matches(&self, token: &str) -> bool {
        self.verify_token_sha256.as_deref().is_some_and(|stored| {
            let given = Sha256::digest(token.as_bytes());
            bool::from(stored.ct_eq(given.as_slice()))
        })
    }
}

#[derive(Default)]
pub struct TenantRoutes {
    by_slug: RwLock<HashMap<String, std::sync::Arc<Route>>>,
}

impl TenantRoutes {
    pub fn get(&self, slug: &str) -> Option<std::sync::Arc<Route>> {
        self.by_slug.read().expect("routes lock").get(slug).cloned()
    }

    /// Reads the routes again; decrypts the app secrets of new and changed tenants only.
    pub async fn refresh(&self, pool: &Pool) -> anyhow::Result<()> {
        let client = pool.get().await?;
        let rows = client
            .query(
                "SELECT slug, tenant_id::text, changed_at, has_app_secret, verify_token_sha256
                   FROM alphadome.webhook_routes()",
                &[],
            )
            .await?;
        let decrypt = client
            .prepare_cached(
                "SELECT alphadome.tenant_credential($1::text::uuid, 'app_secret', 'webhook signature check')",
            )
            .await?;
        let mut fresh = HashMap::with_capacity(rows.len());
        for row in rows {
            let slug: String = row.get(0);
            let (tenant_id, changed_at): (String, std::time::SystemTime) = (row.get(1), row.get(2));
            let known = self
                .get(&slug)
                .filter(|r| r.tenant_id == tenant_id && r.changed_at == changed_at);
            let app_secret = match known {
                Some(route) => route.app_secret.clone(),
                None if row.get::<_, bool>(3) => client
                    .query_one(&decrypt, &[&tenant_id])
                    .await?
                    .get::<_, Option<String>>(0)
                    .map(Secret::new),
                None => None,
            };
            let route = Route {
                tenant_id,
                changed_at,
                app_secret,
                verify_token_sha256: row.get(4),
            };
            fresh.insert(slug, std::sync::Arc::new(route));
        }
        *self.by_slug.write().expect("routes lock") = fresh;
        Ok(())
    }
}
