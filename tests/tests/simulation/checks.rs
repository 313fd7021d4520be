//! The invariants checked after every run, once the network healed and
//! nothing moves any more:
//!
//! 1. every agent holds exactly the server's versions of every record in
//!    its officer's regions (and, outside them, nothing the server lacks),
//!    setting aside only its own changes that the server refused;
//! 2. nothing is pending; every refused change carries the server's reason;
//!    every change an agent made is on the server exactly once (same
//!    record, value and timestamp), with no gap in what it acknowledges;
//! 3. the coverage tables equal a recompute from the records.

use std::collections::{BTreeMap, BTreeSet};

use lindung_shared::ids::{DeviceId, RecordId};
use lindung_shared::merge::{OpId, RecordState, Version};
use lindung_shared::registration::{Change, Field};

use super::world::World;

/// Every version of every field of a record.
fn versions(state: &RecordState) -> BTreeSet<Version> {
    Field::ALL
        .iter()
        .flat_map(|field| state.history(*field).iter().cloned())
        .collect()
}

fn village(state: &RecordState) -> Option<&str> {
    match state.current(Field::VillageCode) {
        Some(Change::VillageCode(code)) => Some(code),
        _ => None,
    }
}

/// A version for a message: field, writer, sequence, timestamp (no NIK).
fn describe(version: &Version, names: &BTreeMap<DeviceId, String>) -> String {
    format!(
        "{} by {}#{} at {}",
        version.change.field().as_str(),
        names
            .get(&version.stamp.device_id)
            .map_or("staff", String::as_str),
        version.stamp.seq,
        version.stamp.hlc
    )
}

fn differences(
    agent: &BTreeSet<Version>,
    server: &BTreeSet<Version>,
    names: &BTreeMap<DeviceId, String>,
) -> String {
    let missing: Vec<String> = server
        .difference(agent)
        .take(4)
        .map(|v| describe(v, names))
        .collect();
    let extra: Vec<String> = agent
        .difference(server)
        .take(4)
        .map(|v| describe(v, names))
        .collect();
    format!(
        "missing [{}], not on the server [{}]",
        missing.join("; "),
        extra.join("; ")
    )
}

/// Every violated invariant, as a sentence (empty: the run is sound).
pub fn violations(world: &mut World) -> Vec<String> {
    let mut found = Vec::new();
    let names: BTreeMap<DeviceId, String> = world
        .agents
        .iter()
        .map(|a| (a.device, a.name.clone()))
        .collect();
    let server = world.server.borrow();
    let storage = server.storage();
    let mut server_states: BTreeMap<RecordId, RecordState> = BTreeMap::new();
    for id in &world.records {
        if let Some(stored) = server.block_on(storage.record(*id)).expect("record") {
            server_states.insert(*id, stored.state);
        }
    }
    let counts = server.block_on(storage.counts()).expect("counts");
    let devices = server.block_on(storage.devices()).expect("devices");

    // 2. Exactly once: every accepted operation is one stamp in one record.
    let mut stored_ops: BTreeSet<OpId> = BTreeSet::new();
    for state in server_states.values() {
        stored_ops.extend(versions(state).iter().map(|v| v.stamp.op_id()));
    }
    if stored_ops.len() as u64 != counts.operations {
        found.push(format!(
            "the server holds {} operations but its records show {}",
            counts.operations,
            stored_ops.len()
        ));
    }

    let mut rejected_total = 0u64;
    for agent in &world.agents {
        let store = agent.store();
        let name = &agent.name;
        let officer = &world.officers[agent.officer];
        let report = store.check().expect("check");
        for problem in &report.problems {
            found.push(format!("{name}: store check: {problem}"));
        }
        let pending = store.pending_count().expect("pending");
        if pending > 0 {
            found.push(format!(
                "{name}: {pending} changes still pending after healing"
            ));
        }
        let status = store.status().expect("status");
        let mut rejected: BTreeSet<u64> = BTreeSet::new();
        for entry in &status.rejected {
            rejected.insert(entry.seq);
            if entry.error_code.is_none() || entry.error_message.as_deref().unwrap_or("").is_empty()
            {
                found.push(format!(
                    "{name}: refused change #{} has no reason",
                    entry.seq
                ));
            }
        }
        rejected_total += rejected.len() as u64;
        let own_ops = report.own_operations;
        match devices.iter().find(|d| d.id == agent.device) {
            Some(device) if device.acknowledged_seq == own_ops => {}
            Some(device) => found.push(format!(
                "{name}: the server acknowledges up to #{} of its {own_ops} operations",
                device.acknowledged_seq
            )),
            None => found.push(format!("{name}: the server does not know the device")),
        }

        let mut own_seqs: BTreeSet<u64> = BTreeSet::new();
        let mut own_accepted: BTreeSet<Version> = BTreeSet::new();
        let mut server_own: BTreeSet<Version> = BTreeSet::new();
        for (index, id) in world.records.iter().enumerate() {
            let mut held = versions(&store.record_state(*id).expect("state"));
            for version in held.iter().filter(|v| v.stamp.device_id == agent.device) {
                own_seqs.insert(version.stamp.seq);
            }
            // The agent keeps its refused changes (and shows why); the
            // server never had them.
            held.retain(|v| v.stamp.device_id != agent.device || !rejected.contains(&v.stamp.seq));
            own_accepted.extend(
                held.iter()
                    .filter(|v| v.stamp.device_id == agent.device)
                    .cloned(),
            );
            let Some(server_state) = server_states.get(id) else {
                if !held.is_empty() {
                    found.push(format!(
                        "{name}: holds {} versions of record R{index} that the server does not have",
                        held.len(),
                    ));
                }
                continue;
            };
            let on_server = versions(server_state);
            server_own.extend(
                on_server
                    .iter()
                    .filter(|v| v.stamp.device_id == agent.device)
                    .cloned(),
            );
            // 1. Same state in scope; nothing unknown to the server outside.
            let in_scope = village(server_state).is_some_and(|v| officer.covers(v));
            if in_scope && held != on_server {
                found.push(format!(
                    "{name}: record R{index} (in its regions) differs from the server: {}",
                    differences(&held, &on_server, &names)
                ));
            } else if !in_scope && !held.is_subset(&on_server) {
                found.push(format!(
                    "{name}: record R{index} (outside its regions) holds versions the server lacks: {}",
                    differences(&held, &on_server, &names)
                ));
            }
        }
        let expected: BTreeSet<u64> = (1..=own_ops).collect();
        if own_seqs != expected {
            found.push(format!(
                "{name}: its operations are not 1..={own_ops}: {} present",
                own_seqs.len()
            ));
        }
        if own_accepted != server_own {
            found.push(format!(
                "{name}: its accepted changes differ from the server's copies: {}",
                differences(&own_accepted, &server_own, &names)
            ));
        }
    }
    if rejected_total != counts.rejections {
        found.push(format!(
            "the agents hold {rejected_total} refused changes, the server {}",
            counts.rejections
        ));
    }

    // 3. Coverage as maintained equals coverage recomputed.
    let maintained = server
        .block_on(storage.coverage_tables())
        .expect("coverage");
    server
        .block_on(storage.recompute_coverage())
        .expect("recompute");
    let recomputed = server
        .block_on(storage.coverage_tables())
        .expect("coverage");
    if maintained != recomputed {
        found.push(format!(
            "coverage tables differ from a recompute: villages {} vs {}, regions {} vs {}, days {} vs {}",
            maintained.villages.len(),
            recomputed.villages.len(),
            maintained.regions.len(),
            recomputed.regions.len(),
            maintained.days.len(),
            recomputed.days.len()
        ));
    }
    let conflicts = server
        .block_on(storage.conflicts("", true, u32::MAX))
        .expect("conflicts");
    drop(server);
    world.stats.server_operations = counts.operations;
    world.stats.rejections = counts.rejections;
    world.stats.conflicts = conflicts.len() as u64;
    found
}
