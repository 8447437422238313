//! `--mac-address` and `--ip6`: the container's interface on a user-defined network takes the
//! hardware address given; an IPv6 address is checked, then refused, since skiff's networks
//! have no IPv6 subnet.

use crate::common::skiff_test;

const MAC: &str = "92:d0:c6:0a:29:33";

#[test]
fn mac_address_sets_the_interface_on_a_user_defined_network() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&["network", "create", "macnet"]).stdout();
        let shown = env
            .skiff(&[
                "run",
                "--rm",
                "--network",
                "macnet",
                "--mac-address",
                "92-D0-C6-0A-29-33",
                image,
                "cat",
                "/sys/class/net/eth0/address",
            ])
            .stdout();
        assert_eq!(shown, format!("{MAC}\n"));
        let id = env
            .skiff(&[
                "create",
                "--network",
                "macnet",
                "--mac-address",
                MAC,
                image,
                "true",
            ])
            .stdout();
        let inspected = env
            .skiff(&[
                "inspect",
                "--format",
                "{{.NetworkSettings.Networks.macnet.MacAddress}}",
                id.trim(),
            ])
            .stdout();
        assert_eq!(inspected, format!("{MAC}\n"));
        env.skiff(&["rm", id.trim()]).stdout();
        for (bad, says) in [
            ("92:d0:c6:0a:29", "expected six hex octets"),
            ("00:00:00:00:00:00", "zero or multicast"),
            ("01:00:5e:00:00:01", "zero or multicast"),
        ] {
            env.skiff(&[
                "run",
                "--rm",
                "--network",
                "macnet",
                "--mac-address",
                bad,
                image,
                "true",
            ])
            .refused(says);
        }
        for network in ["none", "host", "private"] {
            env.skiff(&[
                "run",
                "--rm",
                "--network",
                network,
                "--mac-address",
                MAC,
                image,
                "true",
            ])
            .refused("--mac-address needs a user-defined network (--network NAME)");
        }
        env.skiff(&["network", "rm", "macnet"]).stdout();
    }
}

#[test]
fn ip6_is_checked_then_refused_for_want_of_an_ipv6_subnet() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&["network", "create", "v4net"]).stdout();
        env.skiff(&[
            "run",
            "--rm",
            "--network",
            "v4net",
            "--ip6",
            "fd00::5",
            image,
            "true",
        ])
        .refused("--ip6: network v4net has no IPv6 subnet");
        env.skiff(&["create", "--ip6", "fd00::5", image, "true"])
            .refused("--ip6 needs a user-defined network");
        let (_, stderr) = env
            .skiff(&[
                "run",
                "--rm",
                "--network",
                "v4net",
                "--ip6",
                "10.0.0.1",
                image,
                "true",
            ])
            .assert_exit(125);
        assert!(stderr.contains("--ip6"), "{stderr}");
        assert_eq!(env.skiff(&["ps", "-a", "-q"]).stdout(), "");
        env.skiff(&["network", "rm", "v4net"]).stdout();
    }
}
