use super::*;

#[test]
fn http01_tokens_come_and_go() {
    let c = Challenges::default();
    assert_eq!(c.http01("t"), None);
    c.set_http01("A.example.test", "t", "t.thumb");
    assert_eq!(c.http01("t").as_deref(), Some("t.thumb"));
    assert_eq!(
        c.http01_for("a.example.test", "t").as_deref(),
        Some("t.thumb")
    );
    assert_eq!(
        c.http01_for("b.example.test", "t"),
        None,
        "only for its own host"
    );
    c.remove_http01("t");
    assert_eq!(c.http01("t"), None);
}

#[test]
fn location_semantics_follow_nginx_proxy() {
    use AcmeChallengeLocation::{Disabled, Enabled, Legacy};
    use Http01Answer::{NotFound, PassThrough};
    use HttpsMethod::{NoHttp, NoHttps, NoRedirect, Redirect};
    let site = |location, method| Some(SiteChallenge { location, method });
    let table = [
        // (site, ACCEPT_UNKNOWN_HOST, answer)
        (site(Enabled, Redirect), false, NotFound),
        (site(Enabled, NoRedirect), false, NotFound),
        (site(Enabled, NoHttps), true, PassThrough),
        (site(Enabled, NoHttp), false, PassThrough),
        (site(Enabled, NoHttp), true, NotFound),
        (site(Legacy, Redirect), false, NotFound),
        (site(Legacy, NoRedirect), true, PassThrough),
        (site(Disabled, Redirect), true, PassThrough),
        (None, false, PassThrough),
        (None, true, NotFound),
    ];
    for (s, unknown, want) in table {
        assert_eq!(
            http01_answer(None, s, unknown),
            want,
            "{s:?} unknown={unknown}"
        );
    }
}

#[test]
fn our_own_token_is_answered_whatever_the_settings() {
    for location in [
        AcmeChallengeLocation::Enabled,
        AcmeChallengeLocation::Legacy,
        AcmeChallengeLocation::Disabled,
    ] {
        for method in [
            HttpsMethod::Redirect,
            HttpsMethod::NoRedirect,
            HttpsMethod::NoHttp,
            HttpsMethod::NoHttps,
        ] {
            let s = Some(SiteChallenge { location, method });
            let got = http01_answer(Some("k".into()), s, false);
            assert_eq!(got, Http01Answer::Own("k".into()));
        }
    }
    let unknown = http01_answer(Some("k".into()), None, false);
    assert_eq!(unknown, Http01Answer::Own("k".into()));
}
