//! Master key rotation without downtime: a second session decrypts while the rotation runs.
use alphadome_e2e::Cluster;

#[test]
fn rotation_reencrypts_50_tenants_while_another_session_keeps_decrypting() {
    let cluster = Cluster::start(&[]);
    let mut admin = cluster.create_database("shop");
    let mut ids = Vec::new();
    for i in 0..50 {
        let id: String = admin
            .query_one(
                "SELECT alphadome.create_tenant($1, 'Shop', $2, $3, $4, $5, $6)::text",
                &[
                    &format!("shop-{i}"),
                    &format!("07110004{i:02}"),
                    &format!("4{i:02}"),
                    &format!("EAAtest-e2e-rotation-{i}"),
                    &format!("sk-test-e2e-rotation-{i}"),
                    &format!("whsec-test-e2e-rotation-{i}"),
                ],
            )
            .unwrap()
            .get(0);
        ids.push(id);
    }
    let new_key = Cluster::new_key_hex();
    cluster.set_master_keys(&[("e2e", &cluster.master_key_hex), ("e2e-next", &new_key)]);

    let mut reader = cluster.connect("shop");
    let decrypt = |client: &mut alphadome_e2e::Client, id: &str, credential: &str| -> String {
        client
            .query_one(
                "SELECT alphadome.tenant_credential($1::text::uuid, $2, 'e2e rotation')",
                &[&id, &credential],
            )
            .unwrap()
            .get(0)
    };
    let mut rotation = admin.transaction().unwrap();
    let rotated: i64 = rotation
        .query_one("SELECT alphadome.rotate_master_key(8)", &[])
        .unwrap()
        .get(0);
    assert_eq!(rotated, 150);
    // Not committed yet: the reader sees the old ciphertexts, and the old key still opens them.
    assert_eq!(
        decrypt(&mut reader, &ids[17], "whatsapp_access_token"),
        "EAAtest-e2e-rotation-17"
    );
    rotation.commit().unwrap();
    // Committed: the new ciphertexts, under the new key.
    assert_eq!(
        decrypt(&mut reader, &ids[17], "whatsapp_access_token"),
        "EAAtest-e2e-rotation-17"
    );

    // The old key can leave the file: every credential decrypts to its old plaintext.
    cluster.set_master_keys(&[("e2e-next", &new_key)]);
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            decrypt(&mut reader, id, "whatsapp_access_token"),
            format!("EAAtest-e2e-rotation-{i}")
        );
        assert_eq!(
            decrypt(&mut reader, id, "ai_api_key"),
            format!("sk-test-e2e-rotation-{i}")
        );
        assert_eq!(
            decrypt(&mut reader, id, "app_secret"),
            format!("whsec-test-e2e-rotation-{i}")
        );
    }
    let key_ids: Vec<String> = reader
        .query(
            "SELECT DISTINCT alphadome._credential_key_id(c) FROM alphadome.bot_tenants,
                    LATERAL (VALUES (whatsapp_access_token), (ai_api_key), (app_secret)) v(c)",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(key_ids, vec!["e2e-next".to_string()]);
    let log = cluster.server_log();
    for secret in [cluster.master_key_hex.as_str(), new_key.as_str()] {
        assert!(!log.contains(secret), "a master key is in the server log");
    }
}
