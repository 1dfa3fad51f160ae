use std::collections::HashMap;

use super::*;

fn read(vars: &[(&str, &str)]) -> Result<Option<TraceSettings>, TraceSettingsError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    TraceSettings::from_vars(|name| map.get(name).cloned())
}

#[test]
fn off_without_an_endpoint_or_when_disabled() {
    assert_eq!(read(&[]), Ok(None));
    assert_eq!(read(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]), Ok(None));
    assert_eq!(read(&[("OTEL_SERVICE_NAME", "x")]), Ok(None));
    let disabled = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
        ("OTEL_SDK_DISABLED", "TRUE"),
    ];
    assert_eq!(read(&disabled), Ok(None));
}

#[test]
fn endpoints_as_the_specification_builds_them() {
    let table = [
        (
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")],
            "http://c:4318/v1/traces",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c/otlp/")],
            "https://c/otlp/v1/traces",
        ),
        (
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://wrong:4318"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/custom"),
            ],
            "http://c:4318/custom",
        ),
    ];
    for (vars, want) in table {
        let s = read(&vars).unwrap().unwrap();
        assert_eq!(s.endpoint, want, "{vars:?}");
        assert_eq!(s.service_name, "dockside");
        assert_eq!(
            s.sampler,
            Sampler {
                parent_based: true,
                root: Root::AlwaysOn
            }
        );
    }
}

#[test]
fn samplers_and_service_name() {
    let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
    let s = read(&[
        base,
        ("OTEL_SERVICE_NAME", "edge"),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(s.service_name, "edge");
    assert_eq!(s.sampler.to_string(), "parentbased_traceidratio 0.25");
    let s = read(&[base, ("OTEL_TRACES_SAMPLER", "always_off")])
        .unwrap()
        .unwrap();
    assert_eq!(s.sampler.to_string(), "always_off");
    let s = read(&[base, ("OTEL_TRACES_SAMPLER", "traceidratio")])
        .unwrap()
        .unwrap();
    assert_eq!(s.sampler.root, Root::Ratio(1.0));
}

#[test]
fn bad_values_name_the_variable() {
    let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
    let cases: [(Vec<(&str, &str)>, &str); 6] = [
        (
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "c:4318")],
            "OTEL_EXPORTER_OTLP_ENDPOINT=",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://c/")],
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=",
        ),
        (
            vec![base, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
            "OTEL_EXPORTER_OTLP_PROTOCOL=\"grpc\"",
        ),
        (
            vec![base, ("OTEL_TRACES_SAMPLER", "xray")],
            "OTEL_TRACES_SAMPLER=\"xray\"",
        ),
        (
            vec![
                base,
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
            ],
            "OTEL_TRACES_SAMPLER_ARG=\"1.5\"",
        ),
        (
            vec![base, ("OTEL_SDK_DISABLED", "yes")],
            "OTEL_SDK_DISABLED=\"yes\"",
        ),
    ];
    for (vars, want) in cases {
        let err = read(&vars).unwrap_err().to_string();
        assert!(err.contains(want), "{vars:?}: {err}");
    }
}
