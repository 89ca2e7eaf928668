//! Sender-domain DNS verification against a real DNS server on 127.0.0.1:
//! the records Assent asks for pass when published correctly, and each
//! wrong or missing one fails alone with a problem telling what to publish.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use assent_engine::dns::{DnsChecker, DnsError, ExpectedRecord, RecordCheck, RecordKind};
use assent_test_support::dns_server::DnsServer;
use tokio::net::UdpSocket;

/// A real RSA-2048 SubjectPublicKeyInfo, base64: 392 characters, so the
/// TXT record is longer than one 255-byte character-string.
const RSA_P: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA7gwDeXOXQNWVrP3kyG6Onl+qrY02RZFjisY5GXoZtLAk2B8Gfy2cgUGuteiS7AOEw/dFGQ0Xv8XXsYzwAUwAuy59s2a08rf3nBavrYSm4VDg3ff5iI7xAvJaTsuRpHF8cEg7QFK4A++0NK+2QcqJ8oz2suQX7SrsH5E/VhLQgy68jiu8I6TG5pTccL8nBWgsWFY2L6pZ9O/iQPO2iTx4k3+1RfOH+ng/mFIBLxUTdNXwXSzkoNa8CcvLlxYVbJHbEnos0anOeT5wWWBm+m8o/MLE0e5ZRyvCy7xfHpRTLBn17PijM/xK/VwhuhsDBX1A04sWgUawKAsC1yJRDvZfdwIDAQAB";
const ED_P: &str = "umk792Vp3y30uB9VfYMtEecCdsltuEMIQoGg6seByTA=";

const DKIM_RSA_NAME: &str = "assent1._domainkey.example.com";
const DKIM_ED_NAME: &str = "assent2._domainkey.example.com";
const APEX: &str = "example.com";
const DMARC_NAME: &str = "_dmarc.example.com";
const BOUNCE_NAME: &str = "bounce.example.com";

fn rsa_value() -> String {
    format!("v=DKIM1; k=rsa; p={RSA_P}")
}

fn ed_value() -> String {
    format!("v=DKIM1; k=ed25519; p={ED_P}")
}

fn expected() -> Vec<ExpectedRecord> {
    let rec = |kind, name: &str, value: String, purpose| ExpectedRecord { kind, name: name.into(), value, purpose };
    vec![
        rec(RecordKind::Txt, DKIM_RSA_NAME, rsa_value(), "dkim_rsa"),
        rec(RecordKind::Txt, DKIM_ED_NAME, ed_value(), "dkim_ed25519"),
        rec(RecordKind::Txt, APEX, "include:spf.assent.example".into(), "spf"),
        rec(RecordKind::Txt, DMARC_NAME, "v=DMARC1; p=none; rua=mailto:dmarc@example.com".into(), "dmarc"),
        rec(RecordKind::Mx, BOUNCE_NAME, "10 mx.assent.example".into(), "bounce_mx"),
    ]
}

/// Publishes everything correctly (replacing whatever was there), with an
/// unrelated TXT at the apex as real domains have.
fn publish_all(dns: &DnsServer) {
    for name in [DKIM_RSA_NAME, DKIM_ED_NAME, APEX, DMARC_NAME, BOUNCE_NAME] {
        dns.clear(name);
    }
    dns.set_txt(DKIM_RSA_NAME, vec![rsa_value()]);
    dns.set_txt(DKIM_ED_NAME, vec![ed_value()]);
    dns.set_txt(
        APEX,
        vec!["google-site-verification=abc123".into(), "v=spf1 mx include:spf.assent.example -all".into()],
    );
    dns.set_txt(DMARC_NAME, vec!["v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com".into()]);
    dns.set_mx(BOUNCE_NAME, vec![(10, "MX.Assent.Example.".into())]);
}

fn checker(dns: &DnsServer) -> DnsChecker {
    DnsChecker::with_timeout(Some(dns.addr()), Duration::from_secs(3)).unwrap()
}

fn by_purpose<'a>(checks: &'a [RecordCheck], purpose: &str) -> &'a RecordCheck {
    checks.iter().find(|c| c.purpose == purpose).unwrap()
}

fn assert_all_ok(checks: &[RecordCheck]) {
    for c in checks {
        assert!(
            c.ok && c.problem.is_none(),
            "{} at {} failed: {:?} (found {:?})",
            c.purpose,
            c.name,
            c.problem,
            c.found
        );
    }
}

#[tokio::test]
async fn correct_records_verify() {
    let dns = DnsServer::start().await;
    publish_all(&dns);
    let expected = expected();
    let checks = checker(&dns).check(&expected).await;
    assert_eq!(checks.len(), expected.len());
    for (check, record) in checks.iter().zip(&expected) {
        assert_eq!(check.purpose, record.purpose, "results come in the order asked");
        assert_eq!(check.name, record.name);
    }
    assert_all_ok(&checks);
    // The 2048-bit key went over the wire as several character-strings and came back whole.
    assert!(rsa_value().len() > 255);
    assert_eq!(by_purpose(&checks, "dkim_rsa").found, vec![rsa_value()]);
    assert_eq!(by_purpose(&checks, "bounce_mx").found, vec!["10 mx.assent.example".to_string()]);
    assert_eq!(by_purpose(&checks, "spf").found.len(), 2);
    // Serialized the way the API shows it.
    let json = serde_json::to_value(&expected[4]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"type": "MX", "name": BOUNCE_NAME, "value": "10 mx.assent.example", "purpose": "bounce_mx"})
    );
}

type Mutation = fn(&DnsServer);

#[tokio::test]
async fn each_wrong_or_missing_record_fails_alone() {
    let cases: Vec<(&str, &str, Mutation)> = vec![
        ("dkim_rsa", "no TXT record at assent1._domainkey.example.com: publish v=DKIM1; k=rsa; p=MIIB", |d| {
            d.clear(DKIM_RSA_NAME)
        }),
        ("dkim_rsa", "different public key", |d| {
            d.set_txt(DKIM_RSA_NAME, vec![format!("v=DKIM1; k=rsa; p={}", RSA_P.replace('A', "B"))])
        }),
        ("dkim_rsa", "quote", |d| {
            d.set_txt(DKIM_RSA_NAME, vec![format!("v=DKIM1; k=rsa; p={}\" \"{}", &RSA_P[..200], &RSA_P[200..])])
        }),
        ("dkim_rsa", "more than one TXT record", |d| {
            d.set_txt(
                DKIM_RSA_NAME,
                vec![rsa_value(), "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC".into()],
            )
        }),
        ("dkim_rsa", "revoked", |d| d.set_txt(DKIM_RSA_NAME, vec!["v=DKIM1; k=rsa; p=".into()])),
        ("dkim_ed25519", "k=rsa instead of k=ed25519", |d| {
            d.set_txt(DKIM_ED_NAME, vec![format!("v=DKIM1; k=rsa; p={ED_P}")])
        }),
        (
            "spf",
            "no SPF record (a TXT record starting with v=spf1) at example.com: publish v=spf1 include:spf.assent.example ~all",
            |d| d.set_txt(APEX, vec!["google-site-verification=abc123".into()]),
        ),
        (
            "spf",
            "does not contain include:spf.assent.example; publish instead: v=spf1 mx include:spf.assent.example -all",
            |d| d.set_txt(APEX, vec!["v=spf1 mx -all".into()]),
        ),
        ("spf", "ends in +all", |d| d.set_txt(APEX, vec!["v=spf1 include:spf.assent.example +all".into()])),
        ("dmarc", "no TXT record at _dmarc.example.com: publish v=DMARC1; p=none", |d| d.clear(DMARC_NAME)),
        ("dmarc", "p=monitor, which is not a policy", |d| d.set_txt(DMARC_NAME, vec!["v=DMARC1; p=monitor".into()])),
        ("dmarc", "no DMARC record", |d| d.set_txt(DMARC_NAME, vec!["v=DMARC2; p=none".into()])),
        ("bounce_mx", "do not include mx.assent.example: add bounce.example.com MX 10 mx.assent.example", |d| {
            d.set_mx(BOUNCE_NAME, vec![(10, "mail.example.com".into())])
        }),
        ("bounce_mx", "no MX record at bounce.example.com: publish bounce.example.com MX 10 mx.assent.example", |d| {
            d.clear(BOUNCE_NAME)
        }),
    ];
    let dns = DnsServer::start().await;
    let checker = checker(&dns);
    let expected = expected();
    for (purpose, snippet, mutate) in cases {
        publish_all(&dns);
        mutate(&dns);
        let checks = checker.check(&expected).await;
        for c in &checks {
            if c.purpose == purpose {
                assert!(!c.ok, "{purpose} should fail for {snippet:?}");
                let problem = c.problem.as_deref().unwrap_or_default();
                assert!(problem.contains(snippet), "{purpose}: expected {snippet:?} in {problem:?}");
            } else {
                assert!(c.ok, "{} failed while only {purpose} was broken ({snippet:?}): {:?}", c.purpose, c.problem);
            }
        }
    }
}

#[tokio::test]
async fn two_spf_records_fail() {
    let dns = DnsServer::start().await;
    publish_all(&dns);
    dns.set_txt(
        APEX,
        vec!["v=spf1 include:spf.assent.example ~all".into(), "v=spf1 include:_spf.google.com ~all".into()],
    );
    let checks = checker(&dns).check(&expected()).await;
    let spf = by_purpose(&checks, "spf");
    assert!(!spf.ok);
    assert!(spf.problem.as_deref().unwrap().contains("more than one SPF record (RFC 7208 §4.5)"), "{:?}", spf.problem);
    assert_eq!(spf.found.len(), 2);
}

#[tokio::test]
async fn spf_through_includes_and_redirects_verifies() {
    let dns = DnsServer::start().await;
    publish_all(&dns);
    let spf_of = |checks: &[RecordCheck]| by_purpose(checks, "spf").clone();
    // Our mechanism two includes down.
    dns.set_txt(APEX, vec!["v=spf1 mx include:_spf.corp.example -all".into()]);
    dns.set_txt("_spf.corp.example", vec!["v=spf1 ip4:192.0.2.1 include:_mail.corp.example ~all".into()]);
    dns.set_txt("_mail.corp.example", vec!["v=spf1 include:spf.assent.example ~all".into()]);
    let checker = checker(&dns);
    let spf = spf_of(&checker.check(&expected()).await);
    assert!(spf.ok, "{:?}", spf.problem);
    // Through redirect=.
    dns.set_txt(APEX, vec!["v=spf1 redirect=_spf.corp.example".into()]);
    assert!(spf_of(&checker.check(&expected()).await).ok);
    // An include that fails (-) authorises nothing; neither does a loop
    // that never names us.
    dns.set_txt(APEX, vec!["v=spf1 -include:_spf.corp.example ~all".into()]);
    let spf = spf_of(&checker.check(&expected()).await);
    assert!(!spf.ok && spf.problem.as_deref().unwrap().contains("does not contain include:spf.assent.example"));
    dns.set_txt(APEX, vec!["v=spf1 include:loop-a.example ~all".into()]);
    dns.set_txt("loop-a.example", vec!["v=spf1 include:loop-b.example ~all".into()]);
    dns.set_txt("loop-b.example", vec!["v=spf1 include:loop-a.example ~all".into()]);
    assert!(!spf_of(&checker.check(&expected()).await).ok);
    // An include whose domain has two SPF records is broken (permerror).
    dns.set_txt(APEX, vec!["v=spf1 include:two.example ~all".into()]);
    dns.set_txt("two.example", vec!["v=spf1 include:spf.assent.example ~all".into(), "v=spf1 -all".into()]);
    assert!(!spf_of(&checker.check(&expected()).await).ok);
    // More than 10 lookups deep is past what receivers evaluate.
    dns.set_txt(APEX, vec!["v=spf1 include:chain0.example ~all".into()]);
    for i in 0..11 {
        dns.set_txt(&format!("chain{i}.example"), vec![format!("v=spf1 include:chain{}.example ~all", i + 1)]);
    }
    dns.set_txt("chain11.example", vec!["v=spf1 include:spf.assent.example ~all".into()]);
    assert!(!spf_of(&checker.check(&expected()).await).ok);
    // +all stays refused whatever the includes say.
    dns.set_txt(APEX, vec!["v=spf1 include:_mail.corp.example +all".into()]);
    assert!(!spf_of(&checker.check(&expected()).await).ok);
    dns.set_txt(APEX, vec!["v=spf1 include:spf.assent.example +all".into()]);
    assert!(spf_of(&checker.check(&expected()).await).problem.as_deref().unwrap().contains("+all"));
}

#[tokio::test]
async fn a_subdomain_inherits_the_parents_dmarc_record() {
    let dns = DnsServer::start().await;
    let sub = ExpectedRecord {
        kind: RecordKind::Txt,
        name: "_dmarc.news.example.com".into(),
        value: "v=DMARC1; p=none".into(),
        purpose: "dmarc",
    };
    let checker = checker(&dns);
    let check = |c: Vec<RecordCheck>| c.into_iter().next().unwrap();
    // Nothing anywhere: the subdomain's name is what to publish at.
    let none = check(checker.check(std::slice::from_ref(&sub)).await);
    assert!(!none.ok && none.problem.as_deref().unwrap().contains("_dmarc.news.example.com"), "{none:?}");
    dns.set_txt(DMARC_NAME, vec!["v=DMARC1; p=reject; sp=quarantine".into()]);
    let inherited = check(checker.check(std::slice::from_ref(&sub)).await);
    assert!(inherited.ok, "{inherited:?}");
    assert_eq!(inherited.found, ["_dmarc.example.com: v=DMARC1; p=reject; sp=quarantine"]);
    // A parent whose subdomain policy is no policy does not cover it.
    dns.set_txt(DMARC_NAME, vec!["v=DMARC1; p=none; sp=bogus".into()]);
    assert!(!check(checker.check(std::slice::from_ref(&sub)).await).ok);
    // The subdomain's own record, when there is one, decides.
    dns.set_txt(DMARC_NAME, vec!["v=DMARC1; p=none".into()]);
    dns.set_txt("_dmarc.news.example.com", vec!["v=DMARC1; rua=mailto:x@example.com".into()]);
    let own = check(checker.check(std::slice::from_ref(&sub)).await);
    assert!(!own.ok && own.problem.as_deref().unwrap().contains("has no policy"), "{own:?}");
}

#[tokio::test]
async fn dmarc_without_p_fails() {
    let dns = DnsServer::start().await;
    publish_all(&dns);
    dns.set_txt(DMARC_NAME, vec!["v=DMARC1; rua=mailto:dmarc@example.com".into()]);
    let checks = checker(&dns).check(&expected()).await;
    let dmarc = by_purpose(&checks, "dmarc");
    assert!(!dmarc.ok);
    let problem = dmarc.problem.as_deref().unwrap();
    assert!(problem.contains("has no policy (p=)") && problem.contains("p=none"), "{problem}");
    // Two DMARC records are as bad as none.
    dns.set_txt(DMARC_NAME, vec!["v=DMARC1; p=none".into(), "v=DMARC1; p=reject".into()]);
    let checks = checker(&dns).check(&expected()).await;
    assert!(by_purpose(&checks, "dmarc").problem.as_deref().unwrap().contains("more than one DMARC record"));
}

#[tokio::test]
async fn a_fix_is_seen_on_the_next_check() {
    let dns = DnsServer::start().await;
    publish_all(&dns);
    dns.clear(DKIM_ED_NAME);
    let checker = checker(&dns);
    let checks = checker.check(&expected()).await;
    assert!(!by_purpose(&checks, "dkim_ed25519").ok);
    dns.set_txt(DKIM_ED_NAME, vec![ed_value()]);
    assert_all_ok(&checker.check(&expected()).await);
    dns.set_txt(DKIM_ED_NAME, vec![]);
    assert!(!by_purpose(&checker.check(&expected()).await, "dkim_ed25519").ok);
}

#[tokio::test]
async fn dkim_delegated_by_cname_verifies() {
    let dns = DnsServer::start().await;
    publish_all(&dns);
    dns.clear(DKIM_RSA_NAME);
    dns.set_cname(DKIM_RSA_NAME, "example-com.dkim.assent.example");
    dns.set_txt("example-com.dkim.assent.example", vec![rsa_value()]);
    assert_all_ok(&checker(&dns).check(&expected()).await);
}

#[tokio::test]
async fn cname_records_compare_targets() {
    let dns = DnsServer::start().await;
    let expected = vec![ExpectedRecord {
        kind: RecordKind::Cname,
        name: "links.example.com".into(),
        value: "track.assent.example".into(),
        purpose: "link_tracking",
    }];
    let checker = checker(&dns);
    let missing = checker.check(&expected).await.remove(0);
    assert!(!missing.ok);
    assert_eq!(
        missing.problem.as_deref(),
        Some("no CNAME record at links.example.com: publish links.example.com CNAME track.assent.example")
    );
    dns.set_cname("links.example.com", "Track.Assent.Example.");
    let good = checker.check(&expected).await.remove(0);
    assert!(good.ok, "{:?}", good.problem);
    assert_eq!(good.found, vec!["track.assent.example".to_string()]);
    dns.set_cname("links.example.com", "elsewhere.example");
    let wrong = checker.check(&expected).await.remove(0);
    assert!(wrong.problem.as_deref().unwrap().contains("points to elsewhere.example, not track.assent.example"));
}

#[tokio::test]
async fn answers_too_big_for_udp_come_over_tcp() {
    let dns = DnsServer::start().await;
    publish_all(&dns);
    // Six 392-byte verification strings: well over the 1232-byte UDP limit.
    let mut apex: Vec<String> = (0..6).map(|i| format!("verification-{i}={RSA_P}")).collect();
    apex.push("v=spf1 include:spf.assent.example ~all".into());
    dns.set_txt(APEX, apex);
    let mut expected = expected();
    expected.push(ExpectedRecord {
        kind: RecordKind::Txt,
        name: APEX.into(),
        value: format!("verification-5={RSA_P}"),
        purpose: "site_verification",
    });
    let checks = checker(&dns).check(&expected).await;
    assert_all_ok(&checks);
    assert_eq!(by_purpose(&checks, "spf").found.len(), 7);
}

#[tokio::test]
async fn a_dead_resolver_fails_fast_with_a_problem() {
    // A socket that never answers, and a port nobody listens on.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let closed = {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.local_addr().unwrap()
    };
    for addr in [silent.local_addr().unwrap(), closed] {
        let checker = DnsChecker::with_timeout(Some(addr), Duration::from_millis(400)).unwrap();
        let started = Instant::now();
        let checks = checker.check(&expected()).await;
        assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
        for c in checks {
            assert!(!c.ok);
            let problem = c.problem.unwrap();
            assert!(problem.starts_with("could not look up the"), "{problem}");
            assert!(problem.contains("try again"), "{problem}");
        }
    }
}

#[tokio::test]
async fn the_system_resolver_never_panics() {
    match DnsChecker::new(None) {
        Ok(checker) => assert_eq!(checker.timeout(), assent_engine::dns::DEFAULT_TIMEOUT),
        Err(e) => assert!(e.to_string().contains("--dns-resolver"), "{e}"),
    }
    for odd in [&b""[..], b"\x00\xff\xfe garbage", b"nameserver not-an-address\nsearch \xff\xff\n", b"options ndots:x"]
    {
        match DnsChecker::from_resolv_conf(odd, Duration::from_secs(1)) {
            Ok(_) => {}
            Err(e) => assert!(matches!(e, DnsError::SystemConfig(_)) && e.to_string().contains("--dns-resolver")),
        }
    }
    assert!(DnsChecker::from_resolv_conf(b"", Duration::from_secs(1)).is_err());
    let ok = DnsChecker::from_resolv_conf(
        b"nameserver 127.0.0.1\noptions ndots:9 timeout:0 attempts:0\n",
        Duration::from_secs(1),
    );
    assert!(ok.is_ok(), "{ok:?}");
}

async fn exchange(socket: &UdpSocket, to: std::net::SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    socket.send_to(packet, to).await.unwrap();
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(Duration::from_millis(300), socket.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

#[tokio::test]
async fn the_test_server_survives_garbage_and_parses_compressed_names() {
    let dns = DnsServer::start().await;
    publish_all(&dns);
    let junk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // Random bytes of every length (answers, if any, go to a socket nobody reads).
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for len in 0..600usize {
        let packet: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        junk.send_to(&packet, dns.addr()).await.unwrap();
        if len % 20 == 0 {
            // Let the server keep up so its receive buffer does not overflow.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Crafted trouble: a pointer loop, a forward pointer, huge counts, a truncated question.
    let header = |qd: u16, ar: u16| {
        let mut h = vec![0xAB, 0xCD, 0x01, 0x00];
        h.extend(qd.to_be_bytes());
        h.extend([0, 0, 0, 0]);
        h.extend(ar.to_be_bytes());
        h
    };
    let mut pointer_loop = header(1, 0);
    pointer_loop.extend([0xC0, 12, 0, 16, 0, 1]);
    let mut forward = header(1, 0);
    forward.extend([0xC0, 40, 0, 16, 0, 1]);
    let mut counts = header(1, 0xFFFF);
    counts.extend([7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0, 0, 16, 0, 1]);
    let mut truncated = header(1, 0);
    truncated.extend([7, b'e', b'x', b'a']);
    for bad in [pointer_loop, forward, counts, truncated] {
        let reply = exchange(&socket, dns.addr(), &bad).await;
        let reply = reply.unwrap_or_else(|| panic!("no FORMERR for malformed query {bad:?}"));
        assert_eq!(&reply[..2], &[0xAB, 0xCD]);
        assert_eq!(reply[3] & 0x0F, 1, "FORMERR");
    }
    // A response (QR set) is not answered.
    let mut response = header(1, 0);
    response[2] |= 0x80;
    response.extend([0, 0, 16, 0, 1]);
    assert!(exchange(&socket, dns.addr(), &response).await.is_none());

    // A valid query whose additional section starts with a compressed name
    // (pointer to the question) before the OPT record.
    let mut query = header(1, 2);
    query.extend([7, b'E', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0, 0, 16, 0, 1]);
    query.extend([0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 0, 0, 2, 1, b'x']);
    query.extend([0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]);
    let reply = exchange(&socket, dns.addr(), &query).await.unwrap();
    assert_eq!(reply[3] & 0x0F, 0, "NOERROR");
    assert_eq!(reply[2] & 0x02, 0, "fits in 1232 bytes");
    assert_eq!(u16::from_be_bytes([reply[6], reply[7]]), 2, "two TXT answers");
    assert_eq!(u16::from_be_bytes([reply[10], reply[11]]), 1, "an OPT record back");
    assert!(reply.windows(7).any(|w| w == b"Example"), "question case preserved");

    // TCP garbage: a length larger than what follows, then close.
    let mut tcp = std::net::TcpStream::connect(dns.addr()).unwrap();
    std::io::Write::write_all(&mut tcp, &[0xFF, 0xFF, 1, 2, 3]).unwrap();
    drop(tcp);

    // Still serving.
    assert_all_ok(&checker(&dns).check(&expected()).await);
}
