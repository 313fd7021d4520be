//! Tests of the region index against facts an officer would notice (counts, names, ancestry,
//! kinds, retired codes, search order), plus an ignored test measuring decode time, heap size
//! and search latency: `cargo test -p lindung-shared --release -- --ignored --nocapture`.

use std::cmp::Reverse;

use super::*;

fn r() -> &'static Regions {
    regions()
}

fn codes<'a>(hits: &[SearchHit<'a>]) -> Vec<&'a str> {
    hits.iter().map(|h| h.region.code).collect()
}

fn opts(level: Option<Level>, within: Option<&str>, limit: usize) -> SearchOptions {
    SearchOptions {
        level,
        within: within.map(str::to_owned),
        limit,
    }
}

#[test]
fn counts_match_the_regulation() {
    assert_eq!(
        r().counts(),
        RegionCounts {
            provinces: 38,
            regencies: 514,
            districts: 7_285,
            villages: 83_762,
            retired_districts: 594,
        }
    );
}

#[test]
fn embedded_data_is_small_and_decodes_without_growing() {
    assert_eq!(WILAYAH.len(), WILAYAH_COMPRESSED_LEN);
    assert!(
        WILAYAH.len() < 450_000,
        "compressed index grew to {}",
        WILAYAH.len()
    );
    // Capacities come from the header, so nothing was over-allocated while decoding.
    let regions = r();
    assert_eq!(regions.names.len(), regions.names.capacity());
    assert_eq!(regions.folded.len(), regions.names.len() + regions.len());
    assert!(regions.heap_bytes() < 4_500_000, "{}", regions.heap_bytes());
}

#[test]
fn lubuk_gadang_and_its_ancestors() {
    let v = r().get("1311012001").expect("Lubuk Gadang exists");
    assert_eq!(v.name, "Lubuk Gadang");
    assert_eq!(v.level, Level::Village);
    assert_eq!(v.parent_code(), Some("131101"));
    assert_eq!(v.village_kind(), Some(VillageKind::Desa));
    let ancestors = r().ancestors("1311012001");
    let names: Vec<(&str, &str, Level)> = ancestors
        .iter()
        .map(|a| (a.code, a.name, a.level))
        .collect();
    assert_eq!(
        names,
        [
            ("13", "Sumatera Barat", Level::Province),
            ("1311", "Kabupaten Solok Selatan", Level::Regency),
            ("131101", "Sangir", Level::District),
        ]
    );
    assert!(r().ancestors("13").is_empty());
    assert!(r().ancestors("1399").is_empty());
    assert_eq!(r().ancestors("131101").len(), 2);
}

#[test]
fn dotted_and_spaced_codes_are_accepted() {
    assert_eq!(r().get("13.11.01.2001"), r().get("1311012001"));
    assert_eq!(
        r().get(" 13.11 ").map(|x| x.name),
        Some("Kabupaten Solok Selatan")
    );
    assert_eq!(r().get("13").map(|x| x.name), Some("Sumatera Barat"));
    for missing in [
        "",
        "1",
        "13.1",
        "99",
        "1399",
        "139901",
        "1311019999",
        "13x1",
    ] {
        assert_eq!(r().get(missing), None, "{missing:?}");
    }
}

#[test]
fn every_region_is_found_by_its_own_code_with_a_consistent_parent() {
    let regions = r();
    for i in 0..regions.len() {
        let region = regions.region_at(i);
        assert_eq!(regions.get(region.code), Some(region));
        assert_eq!(Level::of_code_len(region.code.len()), Some(region.level));
        let parent = regions.parent_index(i).map(|p| regions.code_at(p));
        assert_eq!(parent, region.parent_code(), "{}", region.code);
        // The folded arena must agree with fold_name, or search would miss this region.
        assert_eq!(
            regions.folded_name(i),
            fold_name(region.name).as_bytes(),
            "{}",
            region.code
        );
    }
}

#[test]
fn village_kinds_follow_the_seventh_digit() {
    let regions = r();
    let mut per_kind = [0usize; 3];
    for i in regions.level_range(Level::Village) {
        let v = regions.region_at(i);
        let kind = v.village_kind().expect("every village has a kind");
        per_kind[kind as usize] += 1;
        match kind {
            // Aceh has gampong (desa) only; DKI Jakarta has kelurahan only.
            VillageKind::Kelurahan => assert!(!v.code.starts_with("11"), "{}", v.code),
            VillageKind::Desa => assert!(!v.code.starts_with("31"), "{}", v.code),
            VillageKind::DesaAdat => assert!(v.code.starts_with("9103"), "{}", v.code),
        }
    }
    assert_eq!(per_kind, [8_496, 75_252, 14]);
    assert_eq!(
        VillageKind::of_code("31.71.01.1001"),
        Some(VillageKind::Kelurahan)
    );
    assert_eq!(VillageKind::of_code("1311014001"), None);
    assert_eq!(VillageKind::of_code("131101"), None);
    assert_eq!(r().get("1311").and_then(|x| x.village_kind()), None);
}

#[test]
fn regency_kinds_follow_digits_three_and_four() {
    let regions = r();
    let kinds: Vec<RegencyKind> = regions
        .level_range(Level::Regency)
        .filter_map(|i| regions.region_at(i).regency_kind())
        .collect();
    assert_eq!(kinds.len(), 514);
    let kota = kinds.iter().filter(|k| **k == RegencyKind::Kota).count();
    assert_eq!((kinds.len() - kota, kota), (416, 98));
    assert_eq!(
        r().get("1302").and_then(|x| x.regency_kind()),
        Some(RegencyKind::Kabupaten)
    );
    assert_eq!(
        r().get("13.72").and_then(|x| x.regency_kind()),
        Some(RegencyKind::Kota)
    );
    assert_eq!(RegencyKind::of_code("1370"), None);
    assert_eq!(r().get("13").and_then(|x| x.regency_kind()), None);
}

#[test]
fn children_are_direct_and_sorted() {
    let provinces = r().children("");
    assert_eq!(provinces.len(), 38);
    assert_eq!(provinces, r().provinces().collect::<Vec<_>>());
    assert_eq!(provinces[0].name, "Aceh");
    assert_eq!(r().children("13").len(), 19);
    assert_eq!(r().children("13.11").len(), 7);
    let villages = r().children("131101");
    let names: Vec<&str> = villages.iter().map(|v| v.name).collect();
    assert_eq!(
        names,
        [
            "Lubuk Gadang",
            "Lubuk Gadang Timur",
            "Lubuk Gadang Selatan",
            "Lubuk Gadang Utara"
        ]
    );
    assert!(villages.windows(2).all(|w| w[0].code < w[1].code));
    assert!(r().children("1311012001").is_empty());
    assert!(r().children("1399").is_empty());
    assert!(r().children("13a").is_empty());
    // Every region's children are found again, so children() and the parent links agree.
    let total: usize = r().provinces().map(|p| r().children(p.code).len()).sum();
    assert_eq!(total, 514);
}

#[test]
fn retired_districts_point_to_their_successors() {
    let merauke = r().retired_district("91.01.01").expect("910101 is retired");
    assert_eq!(merauke.name, "Merauke");
    assert_eq!(merauke.regency_code, "9101");
    assert_eq!(merauke.successor_code, Some("930101"));
    assert_eq!(merauke.last_listed_in, "Permendagri 58/2021");
    assert_eq!(r().get("930101").map(|d| d.name), Some("Merauke"));
    assert_eq!(r().get("910101"), None);

    let holuon = r().retired_district("911336").expect("911336 is retired");
    assert_eq!((holuon.name, holuon.successor_code), ("Holuon", None));
    let without: Vec<&str> = r()
        .retired_districts()
        .filter(|d| d.successor_code.is_none())
        .map(|d| d.code)
        .collect();
    assert_eq!(without, ["911336", "911344", "911347", "911818", "912101"]);
    assert!(r().retired_districts().all(|d| d.code.starts_with(['9'])));
    assert_eq!(r().retired_district("131101"), None);
    assert_eq!(r().retired_district("9101"), None);
}

#[test]
fn full_names_read_from_village_to_province() {
    assert_eq!(
        r().full_name("1311012001").as_deref(),
        Some("Lubuk Gadang, Kec. Sangir, Kabupaten Solok Selatan, Sumatera Barat")
    );
    assert_eq!(
        r().full_name("13.11.01").as_deref(),
        Some("Kec. Sangir, Kabupaten Solok Selatan, Sumatera Barat")
    );
    assert_eq!(r().full_name("13").as_deref(), Some("Sumatera Barat"));
    assert_eq!(r().full_name("910101"), None);
}

#[test]
fn names_with_commas_and_typographic_apostrophes_survive() {
    assert_eq!(
        r().get("1207281007").map(|v| v.name),
        Some("Lubuk Pakam I,II")
    );
    assert_eq!(
        r().get("1402092010").map(|v| v.name),
        Some("Lambang Sari I, II, III")
    );
    assert_eq!(r().get("5307012021").map(|v| v.name), Some("Regapu’u"));
    // Typed with a plain apostrophe, it is still found first.
    let hits = r().search("regapu'u", &SearchOptions::default());
    assert_eq!(hits.first().map(|h| h.region.code), Some("5307012021"));
    let hits = r().search("lubuk pakam i,ii", &SearchOptions::default());
    assert_eq!(hits.first().map(|h| h.region.code), Some("1207281007"));
}

#[test]
fn exact_village_name_ranks_first_then_prefixes() {
    let hits = r().search("Lubuk Gadang", &SearchOptions::default());
    assert_eq!(
        codes(&hits)[..4],
        ["1311012001", "1311012002", "1311012003", "1311012004"]
    );
    assert!(hits[0].score > hits[1].score);
    assert_eq!(hits[1].score, hits[2].score);
}

#[test]
fn search_ignores_case_and_accents() {
    let plain = r().search("lubuk gadang", &SearchOptions::default());
    let shouted = r().search("  LUBUK   gádang ", &SearchOptions::default());
    assert_eq!(plain, shouted);
    assert_eq!(shouted[0].region.name, "Lubuk Gadang");
}

#[test]
fn words_may_match_ancestor_names() {
    let hits = r().search("lubuk gadang solok", &SearchOptions::default());
    assert_eq!(hits[0].region.code, "1311012001");
    assert_eq!(hits[0].score, 400, "exact on the own part of the query");
    assert!(hits.iter().all(|h| h.region.code.starts_with("1311")));
    // Sangir is the district: "gadang sangir" still finds the four villages.
    let hits = r().search("gadang sangir", &SearchOptions::default());
    assert_eq!(hits.len(), 4);
    // A word found nowhere on the chain excludes the region.
    assert!(
        r().search("lubuk gadang jawa", &SearchOptions::default())
            .is_empty()
    );
    // Ancestors alone do not make a hit: the 4 villages of Sangir are not named "sangir".
    let hits = r().search("sangir", &SearchOptions::default());
    assert!(
        hits.iter()
            .all(|h| fold_name(h.region.name).contains("sangir"))
    );
}

#[test]
fn regency_names_match_without_their_kabupaten_prefix() {
    let hits = r().search("solok selatan", &SearchOptions::default());
    assert_eq!(hits[0].region.name, "Kabupaten Solok Selatan");
    let hits = r().search("solok", &opts(Some(Level::Regency), None, 20));
    let names: Vec<&str> = hits.iter().map(|h| h.region.name).collect();
    assert_eq!(
        names,
        ["Kabupaten Solok", "Kota Solok", "Kabupaten Solok Selatan"]
    );
    let hits = r().search("solok", &SearchOptions::default());
    assert_eq!(hits[0].region.name, "Kabupaten Solok");
    // Then the villages named exactly Solok, before longer names.
    assert_eq!(hits[2].region.code, "1505062008");
}

#[test]
fn within_and_level_filters_restrict_results() {
    // West Java has 32 villages named Sukamaju, then Sukamaju Baru, Kaler and Kidul.
    let west_java = r().search("sukamaju", &opts(None, Some("32"), 100));
    assert_eq!(west_java.len(), 35);
    assert!(west_java[..32].iter().all(|h| h.region.name == "Sukamaju"));
    assert_eq!(west_java[32].region.name, "Sukamaju Baru");
    assert!(west_java.iter().all(|h| h.region.code.starts_with("32")));
    let everywhere = r().search("sukamaju", &opts(Some(Level::Village), None, 1000));
    assert!(everywhere.len() > west_java.len());
    assert!(everywhere.iter().all(|h| h.region.level == Level::Village));
    // Strictly inside: the region itself is not returned.
    let hits = r().search("solok selatan", &opts(None, Some("13.11"), 20));
    assert!(hits.iter().all(|h| h.region.code != "1311"));
    assert!(
        r().search("sukamaju", &opts(None, Some("3x"), 20))
            .is_empty()
    );
    assert!(
        r().search("sukamaju", &opts(None, Some("9999"), 20))
            .is_empty()
    );
    assert_eq!(
        r().search("sukamaju", &opts(None, Some(""), 5)).len(),
        5,
        "an empty within is no filter"
    );
    let districts = r().search("sentani", &opts(Some(Level::District), None, 20));
    assert!(!districts.is_empty());
    assert!(districts.iter().all(|h| h.region.level == Level::District));
}

#[test]
fn digit_queries_match_code_prefixes() {
    let hits = r().search("13.11", &SearchOptions::default());
    assert_eq!(hits[0].region.code, "1311");
    assert!(hits[0].score > hits[1].score);
    assert!(hits.iter().all(|h| h.region.code.starts_with("1311")));
    // Districts before villages, each by code.
    assert_eq!(hits[1].region.code, "131101");
    let hits = r().search("1311012", &SearchOptions::default());
    assert_eq!(hits.len(), 4);
    let hits = r().search("13110120011", &SearchOptions::default());
    assert!(hits.is_empty());
    let hits = r().search("13", &opts(Some(Level::Regency), None, 50));
    assert_eq!(hits.len(), 19);
}

#[test]
fn limit_and_empty_queries_are_respected() {
    assert_eq!(r().search("a", &opts(None, None, 7)).len(), 7);
    assert_eq!(r().search("a", &SearchOptions::default()).len(), 20);
    assert!(r().search("a", &opts(None, None, 0)).is_empty());
    assert!(r().search("", &SearchOptions::default()).is_empty());
    assert!(r().search("  \t ", &SearchOptions::default()).is_empty());
    assert!(r().search("zzqxj", &SearchOptions::default()).is_empty());
}

#[test]
fn results_are_ordered_and_deterministic() {
    for q in ["a", "jaya", "sumber", "kota", "baru", "timur", "1"] {
        let hits = r().search(q, &opts(None, None, 200));
        assert_eq!(hits, r().search(q, &opts(None, None, 200)));
        for w in hits.windows(2) {
            let key = |h: &SearchHit<'static>| (Reverse(h.score), h.region.level, h.region.code);
            assert!(key(&w[0]) < key(&w[1]), "{q}: {:?} then {:?}", w[0], w[1]);
        }
        // A smaller limit returns a prefix of the larger result.
        assert_eq!(
            r().search(q, &opts(None, None, 20))[..],
            hits[..20.min(hits.len())]
        );
    }
}

#[test]
fn search_finds_the_same_as_a_brute_force_scan() {
    // Every region whose own folded name contains the whole query (one word) must be found.
    let regions = r();
    for q in ["gadang", "pakam", "regapu", "sari i"] {
        let expected = (0..regions.len())
            .filter(|&i| {
                let words: Vec<String> = fold_name(q).split(' ').map(str::to_owned).collect();
                let mut chain = vec![fold_name(regions.name_at(i))];
                let mut at = i;
                while let Some(p) = regions.parent_index(at) {
                    chain.push(fold_name(regions.name_at(p)));
                    at = p;
                }
                words.iter().any(|w| chain[0].contains(w.as_str()))
                    && words
                        .iter()
                        .all(|w| chain.iter().any(|n| n.contains(w.as_str())))
            })
            .count();
        let hits = regions.search(q, &opts(None, None, usize::MAX));
        assert_eq!(hits.len(), expected, "{q}");
    }
}

#[test]
fn damaged_data_is_an_error_not_a_panic() {
    assert!(decode::decode(&[1, 2, 3], 100).is_err());
    assert!(
        decode::decode(WILAYAH, 1000).is_err(),
        "inflate limit enforced"
    );
    let raw =
        miniz_oxide::inflate::decompress_to_vec_zlib(WILAYAH).expect("embedded data inflates");
    let text = String::from_utf8(raw).expect("embedded data is UTF-8");
    let half = &text[..text.len() / 2];
    let cut = half.rfind('\n').map_or(half, |at| &half[..=at]);
    for bad in [
        String::new(),
        cut.to_owned(),
        text.replacen("wilayah\t1", "wilayah\t2", 1),
        text.replacen("\n11\tAceh", "\n12\tAceh", 1),
        format!("{text}extra\n"),
    ] {
        let compressed = miniz_oxide::deflate::compress_to_vec_zlib(bad.as_bytes(), 1);
        let error = decode::decode(&compressed, bad.len()).expect_err("damaged data rejected");
        assert_eq!(error.code(), "region_data_damaged");
        assert!(error.message(Lang::Id).contains("rusak"));
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever is typed, search returns at most `limit` well-ordered hits that really contain
    /// a query word in their own name (or match the code prefix), and never panics.
    #[test]
    fn any_query_gives_bounded_ordered_matching_hits(
        query in "[a-z0-9 .’'-]{0,12}|\\PC{0,8}",
        limit in 0usize..40,
        within in proptest::option::of("(11|13|1311|131101|32|9999|x)"),
    ) {
        let options = SearchOptions { level: None, within, limit };
        let hits = r().search(&query, &options);
        proptest::prop_assert!(hits.len() <= limit);
        let folded = fold_name(&query);
        for h in &hits {
            let own = fold_name(h.region.name);
            let digits: String = folded.chars().filter(char::is_ascii_digit).collect();
            let by_code = !digits.is_empty() && h.region.code.starts_with(&digits);
            proptest::prop_assert!(by_code || folded.split(' ').any(|w| own.contains(w)));
            if let Some(w) = &options.within {
                proptest::prop_assert!(h.region.code.starts_with(w.as_str()));
                proptest::prop_assert!(h.region.code.len() > w.len());
            }
        }
        for pair in hits.windows(2) {
            let key = |h: &SearchHit<'static>| (Reverse(h.score), h.region.level, h.region.code);
            proptest::prop_assert!(key(&pair[0]) < key(&pair[1]));
        }
    }
}

#[test]
fn levels_serialise_in_snake_case_and_name_themselves() {
    assert_eq!(
        serde_json::to_string(&Level::Village).expect("serialise"),
        "\"village\""
    );
    assert_eq!(
        serde_json::to_string(&VillageKind::DesaAdat).expect("serialise"),
        "\"desa_adat\""
    );
    assert_eq!(Level::Regency.name_id(), "kabupaten/kota");
    assert_eq!(Level::Regency.name(Lang::En), "regency or city");
    assert_eq!(Level::of_code_len(6), Some(Level::District));
    assert_eq!(Level::of_code_len(8), None);
    assert!(Level::Province < Level::Village);
}
