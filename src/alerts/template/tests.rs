use serde_json::{Value, json};

use super::{MAX_DEPTH, MAX_OUTPUT, Template};

fn ctx() -> Value {
    json!({
        "Status": "firing",
        "Receiver": "ops",
        "CommonLabels": {"alertname": "ApiDown", "severity": "critical"},
        "GroupLabels": {"alertname": "ApiDown"},
        "ExternalURL": "http://panoptes:8080",
        "Count": 0,
        "Ratio": 0.5,
        "Empty": "",
        "Flag": true,
        "Tags": ["a", "b", "c"],
        "Alerts": [
            {"Status": "firing", "Labels": {"alertname": "ApiDown", "instance": "web-1", "severity": "critical"},
             "Annotations": {"summary": "web-1 is down"}},
            {"Status": "resolved", "Labels": {"alertname": "ApiDown", "instance": "web-2", "severity": "warning"},
             "Annotations": {"summary": "web-2 is back"}},
        ],
    })
}

fn r(src: &str) -> String {
    match Template::parse(src) {
        Ok(t) => t.render(&ctx()),
        Err(e) => panic!("{src:?}: {e}"),
    }
}

fn parse_err(src: &str) -> String {
    match Template::parse(src) {
        Ok(t) => panic!("{src:?} parsed: {t:?}"),
        Err(e) => e,
    }
}

#[test]
fn text_and_fields() {
    assert_eq!(r("plain text"), "plain text");
    assert_eq!(r(""), "");
    assert_eq!(r("{{ .Status }}"), "firing");
    assert_eq!(r("{{.Status}}!"), "firing!");
    assert_eq!(
        r("{{ .CommonLabels.alertname }} for {{ .Receiver }}"),
        "ApiDown for ops"
    );
    assert_eq!(
        r("[{{ .Missing }}][{{ .CommonLabels.nope }}][{{ .Status.deeper }}]"),
        "[][][]"
    );
    assert_eq!(r("{{ .Count }} {{ .Ratio }} {{ .Flag }}"), "0 0.5 true");
    assert_eq!(
        r("{{ .Tags }} {{ .GroupLabels }}"),
        "[a b c] map[alertname:ApiDown]"
    );
    assert_eq!(r("a {{/* a comment */}}b"), "a b");
    assert_eq!(r("{ not an action }"), "{ not an action }");
}

#[test]
fn literals() {
    assert_eq!(r(r#"{{ "literal" }}"#), "literal");
    assert_eq!(r(r#"{{ "say \"hi\"\n" }}"#), "say \"hi\"\n");
    assert_eq!(r("{{ `raw \\n` }}"), "raw \\n");
    assert_eq!(
        r("{{ 42 }} {{ -3 }} {{ 1.5 }} {{ true }} {{ nil }}"),
        "42 -3 1.5 true "
    );
    assert_eq!(
        r(r#"{{ "}}" }}"#),
        "}}",
        "a string may hold the closing delimiter"
    );
}

#[test]
fn range_sets_dot_and_root_stays() {
    assert_eq!(
        r(
            "{{ range .Alerts }}{{ .Labels.instance }}: {{ .Annotations.summary }} @{{ $.Receiver }};{{ end }}"
        ),
        "web-1: web-1 is down @ops;web-2: web-2 is back @ops;"
    );
    assert_eq!(r("{{ range .Tags }}<{{ . }}>{{ end }}"), "<a><b><c>");
    assert_eq!(r("{{ range .Nothing }}x{{ else }}none{{ end }}"), "none");
    assert_eq!(
        r("{{ range .CommonLabels }}{{ . }},{{ end }}"),
        "ApiDown,critical,"
    );
    assert_eq!(
        r("{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}"),
        "alertname=ApiDown severity=critical "
    );
    assert_eq!(
        r("{{ .CommonLabels.Names | join \",\" }}"),
        "alertname,severity"
    );
    assert_eq!(
        r("{{ len .Alerts.Firing }}/{{ len .Alerts.Resolved }}"),
        "1/1"
    );
    assert_eq!(
        r("{{ range .Alerts.Firing }}{{ .Labels.instance }}{{ end }}"),
        "web-1"
    );
}

#[test]
fn conditionals() {
    assert_eq!(r("{{ if .Flag }}yes{{ end }}"), "yes");
    assert_eq!(r("{{ if .Missing }}yes{{ else }}no{{ end }}"), "no");
    for falsy in [".Empty", ".Count", ".Missing", "false", "nil", ".Nothing"] {
        assert_eq!(
            r(&format!(
                "{{{{ if {falsy} }}}}T{{{{ else }}}}F{{{{ end }}}}"
            )),
            "F",
            "{falsy}"
        );
    }
    for truthy in [".Status", ".Ratio", ".Tags", ".CommonLabels", "true", "1"] {
        assert_eq!(
            r(&format!(
                "{{{{ if {truthy} }}}}T{{{{ else }}}}F{{{{ end }}}}"
            )),
            "T",
            "{truthy}"
        );
    }
    let chain =
        "{{ if eq .Status \"resolved\" }}R{{ else if eq .Status \"firing\" }}F{{ else }}?{{ end }}";
    assert_eq!(r(chain), "F");
    assert_eq!(r("{{ if not .Flag }}a{{ else }}b{{ end }}"), "b");
    assert_eq!(r("{{ if and .Flag .Empty }}a{{ else }}b{{ end }}"), "b");
    assert_eq!(r("{{ or .Empty .Receiver }}"), "ops");
    assert_eq!(
        r("{{ if ne .Count 1 }}ne{{ end }}{{ if eq .Count 0 }}eq{{ end }}"),
        "neeq"
    );
    assert_eq!(
        r("{{ with .CommonLabels }}{{ .severity }}{{ end }}"),
        "critical"
    );
    assert_eq!(r("{{ with .Missing }}x{{ else }}y{{ end }}"), "y");
}

#[test]
fn trimming() {
    assert_eq!(r("a  \n {{- .Receiver -}} \n\t b"), "aopsb");
    assert_eq!(r("a {{- .Receiver }} b"), "aops b");
    assert_eq!(r("a {{ .Receiver -}} b"), "a opsb");
    let t = "{{ range .Tags -}}\n  - {{ . }}\n{{ end -}}\n";
    assert_eq!(r(t), "- a\n- b\n- c\n");
    assert_eq!(r("x {{- /* c */ -}} y"), "xy");
}

#[test]
fn functions_and_pipelines() {
    assert_eq!(
        r("{{ len .Alerts }} {{ len .Tags }} {{ len .Receiver }} {{ len .Count }}"),
        "2 3 3 0"
    );
    assert_eq!(r("{{ .CommonLabels.severity | toUpper }}"), "CRITICAL");
    assert_eq!(r("{{ toLower \"LoUD\" }}"), "loud");
    assert_eq!(r("{{ title \"api is down\" }}"), "Api Is Down");
    assert_eq!(r("{{ .Tags | join \", \" }}"), "a, b, c");
    assert_eq!(r("{{ join \"-\" .Tags }}"), "a-b-c");
    assert_eq!(
        r("{{ .CommonLabels.severity | toUpper | toLower | title }}"),
        "Critical"
    );
    assert_eq!(r("{{ (len .Alerts) }}"), "2");
    assert_eq!(
        r("{{ index .CommonLabels \"alertname\" }} {{ index .Tags 1 }} {{ index .Tags 9 }}"),
        "ApiDown b "
    );
    assert_eq!(r("{{ trimSpace \"  x \" }}"), "x");
    assert_eq!(r("{{ .Alerts | len }}"), "2");
}

#[test]
fn output_is_bounded() {
    let big = json!({"S": "x".repeat(40_000), "L": (0..100).collect::<Vec<_>>()});
    let t = Template::parse("{{ range .L }}{{ $.S }}{{ end }}").expect("parse");
    let out = t.render(&big);
    assert_eq!(out.len(), MAX_OUTPUT);
    // A multi-byte character is never split.
    let wide = json!({"S": "é".repeat(40_000)});
    let out = Template::parse("{{ .S }}{{ .S }}")
        .expect("parse")
        .render(&wide);
    assert!(out.len() <= MAX_OUTPUT && out.chars().all(|c| c == 'é'));
    // Work without output is bounded as well.
    let many = json!({"L": (0..2000).collect::<Vec<_>>()});
    let t = Template::parse(
        "{{ range .L }}{{ range $.L }}{{ range $.L }}{{ end }}{{ end }}{{ end }}done",
    )
    .expect("parse");
    let started = std::time::Instant::now();
    t.render(&many);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn nesting_is_bounded() {
    let ok = "{{ if true }}".repeat(MAX_DEPTH) + &"{{ end }}".repeat(MAX_DEPTH);
    assert!(Template::parse(&ok).is_ok());
    let deep = "{{ if true }}".repeat(MAX_DEPTH + 1) + &"{{ end }}".repeat(MAX_DEPTH + 1);
    assert!(parse_err(&deep).contains("nested deeper"));
    let parens = format!("{{{{ {}1{} }}}}", "(".repeat(100), ")".repeat(100));
    assert!(parse_err(&parens).contains("nested deeper"));
}

#[test]
fn errors_name_the_position() {
    assert_eq!(parse_err("ab\ncd {{ .X"), "2:4: unclosed action (no `}}`)");
    assert_eq!(parse_err("{{ foo .X }}"), "1:4: unknown function `foo`");
    assert_eq!(parse_err("x {{ end }}"), "1:3: unexpected {{end}}");
    assert_eq!(
        parse_err("{{ if .X }}a"),
        "1:1: unclosed {{if}} (no {{end}})"
    );
    assert_eq!(
        parse_err("{{ range .X }}{{ else }}{{ else }}{{ end }}"),
        "1:25: a second {{else}} in one block"
    );
    assert_eq!(parse_err("{{ \"abc }}"), "1:4: unterminated string");
    assert_eq!(parse_err("{{ }}"), "1:1: empty action");
    assert_eq!(
        parse_err("{{ .X | }}"),
        "1:7: missing command (empty pipeline stage)"
    );
    assert_eq!(
        parse_err("{{ .X .Y }}"),
        "1:7: unexpected operand (only a function takes arguments)"
    );
    assert_eq!(
        parse_err("{{ .X | .Y }}"),
        "1:9: only a function can follow `|`"
    );
    assert_eq!(parse_err("{{ len }}"), "1:4: `len` takes 1 argument, got 0");
    assert_eq!(
        parse_err("{{ .Tags | join }}"),
        "1:12: `join` takes 2 arguments, got 1"
    );
    assert_eq!(parse_err("{{ .X # }}"), "1:7: unexpected `#` in action");
    assert_eq!(parse_err("{{ (len .X }}"), "1:1: unclosed `(`");
    assert_eq!(parse_err("{{ len .X) }}"), "1:10: unmatched `)`");
    assert_eq!(
        parse_err("{{ range .X }}{{ else if .Y }}{{ end }}"),
        "1:23: expected `}}` or `if` after `else`"
    );
    assert_eq!(parse_err("{{ \"a\\q\" }}"), "1:6: unknown escape `\\q`");
    assert_eq!(parse_err("{{/* open }}"), "1:3: unclosed comment");
}

#[test]
fn parse_once_render_many() {
    let t = Template::parse("{{ .Status }}").expect("parse");
    assert_eq!(t.render(&json!({"Status": "a"})), "a");
    assert_eq!(t.render(&json!({"Status": "b"})), "b");
    assert_eq!(t.render(&json!(null)), "");
}

#[test]
fn minus_without_space_is_a_number() {
    assert_eq!(r("a {{-3}} b"), "a -3 b");
    assert!(parse_err("{{ .X-}}").contains("unexpected `-`"));
}

#[test]
fn never_panics_on_cut_or_odd_sources() {
    let sources = [
        "{{ range .Alerts }}{{ .Labels.instance | toUpper }}{{ else }}é{{ end }}",
        "{{- if eq .Status \"firing\" -}} 🔥 {{ else if .X }}x{{- else -}} ok {{- end -}}",
        "{{ join \", \" (index .CommonLabels \"alertname\") }} {{/* c */}} `{{ `r` }}`",
        "{{ with $.CommonLabels }}{{ .severity }}{{ end }}{{ $ }}{{ $.Tags }}",
        "{{ and (or .A .B) (not .C) }}{{ len (.Tags) }}{{ 1.5e }}",
    ];
    for src in sources {
        for (i, _) in src.char_indices() {
            if let Ok(t) = Template::parse(&src[..i]) {
                t.render(&ctx());
            }
        }
    }
    for odd in [
        "{{", "}}", "{{{{", "{{ ( }}", "{{ ) }}", "{{ | }}", "{{ $. }}", "{{ .. }}", "{{ \"\\",
        "{{ `",
    ] {
        assert!(Template::parse(odd).is_err() || odd == "}}", "{odd:?}");
    }
}
