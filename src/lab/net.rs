//! The lab's network: a bridge in the root namespace holding the management address,
//! and per host a namespace joined to it by a veth pair.

use std::net::Ipv4Addr;
use std::path::Path;

use color_eyre::eyre::{Result, bail};

use super::plan::{HostPlan, LabPlan};
use super::sys::run;

/// `10.89.X.0/24` candidates the lab may take, first free one wins.
const SUBNET_BASE: [u8; 2] = [10, 89];

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

pub fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// IPv4 prefixes in use on this machine (addresses and routes, every table).
async fn prefixes_in_use() -> Result<Vec<(Ipv4Addr, u8)>> {
    let addrs = run("ip", ["-4", "-o", "addr", "show"]).await?;
    let routes = run("ip", ["-4", "route", "show", "table", "all"]).await?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&addrs.stdout),
        String::from_utf8_lossy(&routes.stdout)
    );
    Ok(parse_prefixes(&text))
}

fn parse_prefixes(text: &str) -> Vec<(Ipv4Addr, u8)> {
    text.split_whitespace()
        .filter_map(|tok| {
            let (addr, len) = match tok.split_once('/') {
                Some((a, l)) => (a, l.parse().ok()?),
                None => (tok, 32),
            };
            let addr: Ipv4Addr = addr.parse().ok()?;
            (len <= 32).then_some((addr, len))
        })
        .filter(|(a, len)| !(a.is_unspecified() && *len == 0)) // "default"-like 0/0
        .collect()
}

fn overlaps(a: (Ipv4Addr, u8), b: (Ipv4Addr, u8)) -> bool {
    let len = a.1.min(b.1);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    (u32::from(a.0) & mask) == (u32::from(b.0) & mask)
}

/// The first `10.89.X.0/24` no address or route on this machine overlaps.
pub async fn choose_subnet() -> Result<[u8; 3]> {
    let used = prefixes_in_use().await?;
    pick_subnet(&used)
}

fn pick_subnet(used: &[(Ipv4Addr, u8)]) -> Result<[u8; 3]> {
    for third in 0..=255u8 {
        let candidate = (Ipv4Addr::new(SUBNET_BASE[0], SUBNET_BASE[1], third, 0), 24);
        // Ignore host routes to 0.0.0.0 and the default route: they overlap everything.
        if !used.iter().any(|u| u.1 > 0 && overlaps(*u, candidate)) {
            return Ok([SUBNET_BASE[0], SUBNET_BASE[1], third]);
        }
    }
    bail!(
        "no free /24 in 10.89.0.0/16 for the lab: every one overlaps an existing address or route"
    )
}

pub async fn ensure_bridge(plan: &LabPlan) -> Result<()> {
    let br = plan.bridge.as_str();
    if !link_exists(br) {
        run("ip", ["link", "add", br, "type", "bridge"]).await?;
    }
    let cidr = format!("{}/24", plan.management_addr());
    run("ip", ["addr", "replace", &cidr, "dev", br]).await?;
    run("ip", ["link", "set", br, "up"]).await?;
    Ok(())
}

pub async fn ensure_host_network(plan: &LabPlan, host: &HostPlan) -> Result<()> {
    let ns = host.netns.as_str();
    if !netns_exists(ns) {
        run("ip", ["netns", "add", ns]).await?;
    }
    if !link_exists(&host.veth) {
        run(
            "ip",
            [
                "link", "add", &host.veth, "type", "veth", "peer", "name", "eth0", "netns", ns,
            ],
        )
        .await?;
    }
    run(
        "ip",
        ["link", "set", &host.veth, "master", &plan.bridge, "up"],
    )
    .await?;
    let cidr = format!("{}/24", host.addr);
    run("ip", ["-n", ns, "addr", "replace", &cidr, "dev", "eth0"]).await?;
    run("ip", ["-n", ns, "link", "set", "eth0", "up"]).await?;
    run("ip", ["-n", ns, "link", "set", "lo", "up"]).await?;
    Ok(())
}

/// Removes a host's namespace and link if present (deleting the namespace also
/// deletes its end of the veth pair).
pub async fn remove_host_network(host: &HostPlan) -> Result<()> {
    if netns_exists(&host.netns) {
        run("ip", ["netns", "del", &host.netns]).await?;
    }
    delete_link(&host.veth).await
}

/// Deletes a link; one that vanishes meanwhile (the kernel removes a veth pair's
/// root end shortly after its namespace) is not an error.
async fn delete_link(name: &str) -> Result<()> {
    if link_exists(name)
        && let Err(e) = run("ip", ["link", "del", name]).await
        && link_exists(name)
    {
        return Err(e);
    }
    Ok(())
}

pub async fn remove_bridge(plan: &LabPlan) -> Result<()> {
    delete_link(&plan.bridge).await
}

/// Pids of every process inside a namespace.
pub async fn netns_pids(netns: &str) -> Vec<i32> {
    if !netns_exists(netns) {
        return vec![];
    }
    match run("ip", ["netns", "pids", netns]).await {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect(),
        Err(e) => {
            tracing::warn!(netns, error = %e, "cannot list namespace pids");
            vec![]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_first_subnet_nothing_overlaps() {
        let used = parse_prefixes(
            "2: eth0    inet 10.89.0.5/24 brd 10.89.0.255 scope global eth0\n\
             default via 192.168.1.1 dev eth0\n\
             10.89.1.0/24 dev fdlx proto kernel\n\
             local 127.0.0.1 dev lo table local",
        );
        assert_eq!(pick_subnet(&used).expect("free"), [10, 89, 2]);
    }

    #[test]
    fn a_wide_route_blocks_every_candidate_inside_it() {
        let used = parse_prefixes("10.0.0.0/8 dev wg0");
        assert!(pick_subnet(&used).is_err());
        let used = parse_prefixes("10.89.0.0/17 dev wg0");
        assert_eq!(pick_subnet(&used).expect("free"), [10, 89, 128]);
    }
}
