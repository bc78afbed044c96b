//! An operator's day as docs/operations.md tells it, run as an alphadome_admin login (not a
//! superuser): onboard a tenant, rotate its token, change its number and slug, pause it,
//! deactivate and delete it; and load the seed.
use alphadome_e2e::kassangas::{ingest, text_webhook};
use alphadome_e2e::{sqlstate, Cluster};

#[test]
fn an_operator_onboards_rotates_renumbers_pauses_and_deletes_a_tenant() {
    let cluster = Cluster::start(&[]);
    cluster.create_database("shop");
    cluster
        .connect("shop")
        .batch_execute("CREATE ROLE operator LOGIN IN ROLE alphadome_admin")
        .unwrap();
    let mut op =
        postgres::Client::connect(&cluster.url("operator", "shop"), postgres::NoTls).unwrap();
    // Onboard (secrets as bind parameters).
    let id: String = op
        .query_one(
            "SELECT alphadome.create_tenant(slug => 'mama-jikoni', client_name => 'Mama Jikoni',
                     client_phone => '0722 000 111', whatsapp_phone_number_id => '100000000000500',
                     whatsapp_access_token => $1, client_email => 'mama@jikoni.co.ke',
                     token_expires_at => now() + interval '60 days')::text",
            &[&"EAAtest-operator-token-1"],
        )
        .unwrap()
        .get(0);
    // Rotate the token.
    op.execute(
        "SELECT alphadome.set_credentials($1::text::uuid, whatsapp_access_token => $2)",
        &[&id, &"EAAtest-operator-token-2"],
    )
    .unwrap();
    // Meta gave the shop a new number; the slug changes with the brand, and so do the phone and
    // the email (normalised as in create_tenant). Each in a transaction of its own, as typed.
    op.execute(
        "UPDATE alphadome.bot_tenants SET whatsapp_phone_number_id = '100000000000501', slug = 'jikoni'
          WHERE id = $1::text::uuid",
        &[&id],
    )
    .unwrap();
    op.execute(
        "UPDATE alphadome.bot_tenants SET client_phone = '0722 000 999', client_email = 'Mama@Jikoni.CO.KE'
          WHERE id = $1::text::uuid",
        &[&id],
    )
    .unwrap();
    op.execute(
        "UPDATE alphadome.bot_control_settings SET escalation_phone = '0733 000 999' WHERE bot_tenant_id = $1::text::uuid",
        &[&id],
    )
    .unwrap();
    let row = op
        .query_one(
            "SELECT t.client_phone, t.client_email, s.escalation_phone FROM alphadome.bot_tenants t
               JOIN alphadome.bot_control_settings s ON s.bot_tenant_id = t.id WHERE t.id = $1::text::uuid",
            &[&id],
        )
        .unwrap();
    assert_eq!(
        (
            row.get::<_, String>(0),
            row.get::<_, String>(1),
            row.get::<_, String>(2)
        ),
        (
            "254722000999".into(),
            "Mama@jikoni.co.ke".into(),
            "254733000999".into()
        )
    );
    let counts = ingest(
        &mut op,
        &text_webhook("100000000000501", "254711000501", "wamid.op.1", "hello"),
    )
    .unwrap();
    assert_eq!(counts["accepted"], 1, "the new number is routed: {counts}");
    // Pause the bot: messages are recorded, not answered.
    op.execute(
        "UPDATE alphadome.bot_control_settings SET is_bot_enabled = false WHERE bot_tenant_id = $1::text::uuid",
        &[&id],
    )
    .unwrap();
    ingest(
        &mut op,
        &text_webhook("100000000000501", "254711000501", "wamid.op.2", "hello?"),
    )
    .unwrap();
    let decision: String = op
        .query_one(
            "SELECT decision FROM alphadome.messages WHERE wamid = 'wamid.op.2'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(decision, "bot_disabled");
    // Delete: refused while active; deactivate, commit, then delete.
    let delete = "DELETE FROM alphadome.bot_tenants WHERE id = $1::text::uuid";
    assert_eq!(sqlstate(op.execute(delete, &[&id])), "55000");
    op.execute(
        "UPDATE alphadome.bot_tenants SET is_active = false WHERE id = $1::text::uuid",
        &[&id],
    )
    .unwrap();
    // The rotation is in the audit, by the operator, while the tenant lives.
    let audited = || -> i64 {
        cluster
            .connect("shop")
            .query_one(
                "SELECT count(*) FROM alphadome.credential_audit WHERE accessed_by = 'operator' AND purpose LIKE 'set_credentials%'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    assert_eq!(audited(), 1);
    assert_eq!(op.execute(delete, &[&id]).unwrap(), 1);
    let left: i64 = op
        .query_one(
            "SELECT (SELECT count(*) FROM alphadome.conversations) + (SELECT count(*) FROM alphadome.messages)
                  + (SELECT count(*) FROM alphadome.outbox) + (SELECT count(*) FROM alphadome.bot_control_settings)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the tenant's rows went with it");
    // Its audit rows went too (docs/operations.md, "Deleting a tenant").
    assert_eq!(audited(), 0, "the tenant's audit rows went with it");
}

/// The seed holds no secret, so it needs no right to turn statement logging off: an operator
/// loads it.
#[test]
fn the_seed_runs_as_an_operator() {
    let cluster = Cluster::start(&[]);
    cluster.create_database("shop");
    cluster
        .connect("shop")
        .batch_execute("CREATE ROLE operator LOGIN IN ROLE alphadome_admin;")
        .unwrap();
    let seed = alphadome_e2e::repo_root().join("sql/seed/kassangas.sql");
    let out = cluster.tool(
        "psql",
        &[
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-U",
            "operator",
            "-d",
            "shop",
            "-f",
            seed.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tenants: i64 = cluster
        .connect("shop")
        .query_one(
            "SELECT count(*) FROM alphadome.bot_tenants WHERE slug = 'kassangas'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tenants, 1);
}
