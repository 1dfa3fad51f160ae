use super::*;

#[test]
fn container_filters_like_docker_gen() {
    let f = parse_filters("network=front, label=com.example.a=b,,status=running").unwrap();
    let want = [
        ("network", "front"),
        ("label", "com.example.a=b"),
        ("status", "running"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(f, want);
    assert!(parse_filters("").unwrap().is_empty());
    let err = parse_filters("network").unwrap_err().to_string();
    assert!(err.contains("DOCKER_CONTAINER_FILTERS"), "{err}");
}

#[test]
fn endpoints_and_their_errors() {
    let tcp = DockerSettings::with_host("tcp://10.0.0.1:2376/")
        .endpoint()
        .unwrap();
    assert_eq!(tcp.to_string(), "tcp://10.0.0.1:2376");
    let err = DockerSettings::with_host("unix:///nonexistent/docker.sock")
        .endpoint()
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/docker.sock") && err.contains("-v /var/run/docker.sock"));
    let err = DockerSettings::with_host("ssh://x")
        .endpoint()
        .unwrap_err()
        .to_string();
    assert!(err.contains("DOCKER_HOST=\"ssh://x\""), "{err}");
}
