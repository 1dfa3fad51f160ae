use super::*;

const PASSWORD: &[u8] = b"correct horse";

/// Hashes of "correct horse" made by real tools; each line says which command.
const FIXTURES: &[(&str, Scheme, &str)] = &[
    // htpasswd -nb -B -C 4 alice 'correct horse'   (apache2-utils 2.4)
    (
        "$2y$04$pF78d2A0x5e6EoBVzl4Q3.aPCHfb3qrqYmxpURBqpVX0rSgJbyUQW",
        Scheme::Bcrypt,
        "htpasswd -B -C 4",
    ),
    // htpasswd -nb -B -C 5 alice 'correct horse'   (htpasswd's default cost)
    (
        "$2y$05$R6bvlT/pk2A0K.KXnGcdGOM1EmuGxV5odt/sIZ7AWKJi/7EjU/cC6",
        Scheme::Bcrypt,
        "htpasswd -B",
    ),
    // python3 -c "import bcrypt; print(bcrypt.hashpw(b'correct horse', bcrypt.gensalt(4)))"  (bcrypt 5.0.0)
    (
        "$2b$04$jK9CV4gZpdAzt80M2eFv4.JOVNj5bT3L./CJOYDI8uzp.MfhKNY.e",
        Scheme::Bcrypt,
        "python bcrypt $2b$",
    ),
    // same, with gensalt(4, prefix=b'2a')
    (
        "$2a$04$WZS3cJyh9A5hs847HNUrYeJvRLpyRXB2zgK9voVIDs5hiFFkqLXSO",
        Scheme::Bcrypt,
        "python bcrypt $2a$",
    ),
    // htpasswd -nb -m alice 'correct horse'
    (
        "$apr1$QaotPf5F$OC812LvwkdtuyNsHwfP/C1",
        Scheme::Md5Crypt,
        "htpasswd -m",
    ),
    // openssl passwd -apr1 'correct horse'   (OpenSSL 3.0.19)
    (
        "$apr1$jx/xRCqu$qrv/ORRbenxt45nKESgCA0",
        Scheme::Md5Crypt,
        "openssl passwd -apr1",
    ),
    // openssl passwd -1 'correct horse'
    (
        "$1$k14eP468$W.XgjTCyAAAhDTRmfxi/y/",
        Scheme::Md5Crypt,
        "openssl passwd -1",
    ),
    // htpasswd -nb -2 alice 'correct horse'
    (
        "$5$3kDBl16IEaaWVImA$bCLM/4CwJPL5dxxlpB3SxEYM9HvePcS/abFS8xLq2X7",
        Scheme::Sha256Crypt,
        "htpasswd -2",
    ),
    // htpasswd -nb -2 -r 1000 alice 'correct horse'
    (
        "$5$rounds=1000$rX8rE2CXaPD.EgFN$u.KSwnTkDPtE/nQ.Bx0EM3ZmBmuvgZkBmcnEJ1m0jV1",
        Scheme::Sha256Crypt,
        "htpasswd -2 -r 1000",
    ),
    // openssl passwd -5 'correct horse'
    (
        "$5$ufBwRLFGalWe/kgY$1Fcgbj/xf4wGPoJ//NQCTppXMMumpf64rHw6ivEoc59",
        Scheme::Sha256Crypt,
        "openssl passwd -5",
    ),
    // htpasswd -nb -5 alice 'correct horse'
    (
        "$6$wIEdpuxu3Q8RpBJt$S0QwC6IRPDzsvE/WQJPyffAv643g4I.WQGNAy1Y2iGYi8B78CabxC7JU.y3BuZ7pZzHL/j/9iya6NNtaZfoQf0",
        Scheme::Sha512Crypt,
        "htpasswd -5",
    ),
    // openssl passwd -6 'correct horse'
    (
        "$6$XiSfbDJqSYV5iGko$kHjIBjEpqxIFWh9LBYFEysfMnxi.ZJaEluP7Fw9oZW0s5KmDsuYdPp.tqSIFC7Z5HQcoIyvq2bf9uGm/jEW4b/",
        Scheme::Sha512Crypt,
        "openssl passwd -6",
    ),
    // openssl passwd -6 -salt x  (a one-character salt)
    (
        "$6$x$wyUF1cwljYxWm52mSrCNhPis.RDV.T8CKPSQFvQhatb7XvQEuU8MzHV.HKzrzjDG/HEq.wZtbdTlLzrlSjbao/",
        Scheme::Sha512Crypt,
        "openssl passwd -6 -salt x",
    ),
    // python3: crypt.crypt('correct horse', '$6$rounds=1200$abcdefghijklmnopqrs')  (glibc: salt cut to 16)
    (
        "$6$rounds=1200$abcdefghijklmnop$HG5ilQ9zkxiRMt5wAh73j/o.9QJRoy1L2sHxzOF0xtJCYRmqONP5G0idCHS.eAr0WzSOhSadaldgH8stCXMFw0",
        Scheme::Sha512Crypt,
        "glibc crypt rounds=1200",
    ),
    // htpasswd -nb -s alice 'correct horse'
    (
        "{SHA}L55TUjtiq8FBorTWAZ0jy6g129A=",
        Scheme::Sha1,
        "htpasswd -s",
    ),
    // python3: '{SSHA}' + b64encode(sha1(b'correct horse' + b'NaCl4u!x').digest() + b'NaCl4u!x')
    (
        "{SSHA}ObF068J8SoehXJpGBJ1uKYTXAupOYUNsNHUheA==",
        Scheme::SaltedSha1,
        "python {SSHA}",
    ),
];

#[test]
fn every_scheme_verifies_the_right_password_only() {
    for (hash, want, tool) in FIXTURES {
        assert_eq!(scheme(hash), Some(*want), "{tool}");
        assert!(verify(PASSWORD, hash), "{tool}: right password refused");
        assert!(
            !verify(b"correct horsE", hash),
            "{tool}: wrong password accepted"
        );
        assert!(!verify(b"", hash), "{tool}: empty password accepted");
    }
}

#[test]
fn plain_text_and_unknown_schemes_are_not_hashes() {
    for not_a_hash in [
        "",
        "correct horse",
        "secret",
        // htpasswd -nb -d alice 'correct horse' (DES crypt: refused, looks like plain text)
        "qQzdgpHPA1TTc",
        "{PLAIN}secret",
        "{SHA}not base64!",
        "{SHA}AAAA",
        "{SSHA}L55TUjtiq8FBorTWAZ0jy6g129A=",
        "$2y$04$short",
        "$2y$xx$pF78d2A0x5e6EoBVzl4Q3.aPCHfb3qrqYmxpURBqpVX0rSgJbyUQW",
        "$apr1$QaotPf5F",
        "$apr1$toolongsalt$OC812LvwkdtuyNsHwfP/C1",
        "$apr1$QaotPf5F$OC812LvwkdtuyNsHwfP/C",
        "$5$salt$short",
        "$5$rounds=$salt$bCLM/4CwJPL5dxxlpB3SxEYM9HvePcS/abFS8xLq2X7",
        "$6$salt$bCLM/4CwJPL5dxxlpB3SxEYM9HvePcS/abFS8xLq2X7",
        "$7$whatever",
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
    ] {
        assert_eq!(scheme(not_a_hash), None, "{not_a_hash:?}");
        assert!(!verify(b"secret", not_a_hash));
        assert!(!verify(b"correct horse", not_a_hash));
    }
}

#[test]
fn md5_crypt_handles_long_and_empty_passwords() {
    // openssl passwd -apr1 -salt abcdefgh 'a password longer than sixteen bytes, thirty-two even'
    let long = "$apr1$abcdefgh$UsAvYefuAvbn0YNgm8Ux91";
    assert!(verify(
        b"a password longer than sixteen bytes, thirty-two even",
        long
    ));
    // openssl passwd -apr1 -salt abc ''
    assert!(verify(b"", "$apr1$abc$BfqKdn9xFDWJPa3kcp/PH0"));
}
