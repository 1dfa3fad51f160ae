use super::*;

fn bundle() -> Bundle {
    Bundle {
        hosts: vec!["a.example".into(), "www.a.example".into()],
        chain_pem: "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n".into(),
        key_pem: "-----BEGIN PRIVATE KEY-----\nBB==\n-----END PRIVATE KEY-----\n".into(),
        replica: "r1".into(),
    }
}

#[test]
fn bundles_round_trip_with_the_key_sealed() {
    let sealer = Sealer::with_key(&[1; 32]);
    let bytes = bundle().encode(&sealer, "/d/certs/a.example").unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    assert!(text.contains("BEGIN CERTIFICATE"));
    assert_eq!(
        Bundle::decode(&bytes, &sealer, "/d/certs/a.example").unwrap(),
        bundle()
    );
    assert!(matches!(
        Bundle::decode(&bytes, &sealer, "/d/certs/b.example"),
        Err(CodecError::Seal(SealError::WrongKey))
    ));
    // Debug output never shows the key.
    assert!(!format!("{:?}", bundle()).contains("PRIVATE"));
}

#[test]
fn plain_bundles_round_trip() {
    let sealer = Sealer::plain();
    let bytes = bundle().encode(&sealer, "n").unwrap();
    assert_eq!(Bundle::decode(&bytes, &sealer, "n").unwrap(), bundle());
}

#[test]
fn foreign_and_future_values_are_refused() {
    let sealer = Sealer::plain();
    assert!(matches!(
        Bundle::decode(b"{}", &sealer, "n"),
        Err(CodecError::Json(_))
    ));
    let future = br#"{"v":2,"hosts":[],"chain":"","key":"plain:","replica":""}"#;
    let err = Bundle::decode(future, &sealer, "n").unwrap_err();
    assert!(err.to_string().contains("upgrade"), "{err}");
    assert!(Answer::decode(br#"{"v":1,"type":"dns_01"}"#).is_err());
}

#[test]
fn accounts_and_answers_round_trip() {
    let sealer = Sealer::with_key(&[2; 32]);
    let bytes = encode_account(b"{\"id\":1}", &sealer, "acc").unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains("\"id\""));
    assert_eq!(
        decode_account(&bytes, &sealer, "acc").unwrap(),
        b"{\"id\":1}"
    );
    for answer in [
        Answer::Http01 {
            host: "a.example".into(),
            key_authorization: "tok.thumb".into(),
        },
        Answer::TlsAlpn01 {
            digest: "q83v".into(),
        },
    ] {
        assert_eq!(Answer::decode(&answer.encode().unwrap()).unwrap(), answer);
    }
}
