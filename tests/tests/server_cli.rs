//! `lindung-server regions`: the operator can see which region edition is built in.

use lindung_tests::server;

#[test]
fn the_server_reports_the_embedded_region_counts() {
    let json = server(["regions", "--json"]).json();
    assert_eq!(json["provinces"], 38);
    assert_eq!(json["kabupaten"], 416);
    assert_eq!(json["kota"], 98);
    assert_eq!(json["districts"], 7285);
    assert_eq!(json["kelurahan"], 8496);
    assert_eq!(json["desa"], 75252);
    assert_eq!(json["desa_adat"], 14);
    assert_eq!(json["retired_districts"], 594);
    let text = server(["regions"]);
    assert_eq!(text.code, Some(0));
    assert!(text.stdout.contains("300.2.2-2138"), "{}", text.stdout);
}
