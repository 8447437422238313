//! Networking: published ports (-p, -P, UDP, both helpers), port conflicts, and the network
//! modes (none, host, container:), with the generated /etc/hosts and /etc/resolv.conf. Traffic
//! goes only to loopback and into namespaces the tests made.

use std::net::{TcpListener, UdpSocket};
use std::process::Command;
use std::time::Duration;

use crate::common::{pastas_under, skiff_test, until, TestEnv, UNTIL_THE_FUTURE};

/// A host TCP port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn curl(port: u16) -> Option<String> {
    let out = std::process::Command::new("curl")
        .args(["-sf", "--max-time", "2"])
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .expect("curl is missing: run scripts/setup-host.sh as root");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A web server on container port 80 whose page names the container.
fn web(env: &TestEnv, image: &str, name: &str, network: &[&str]) -> String {
    let script = format!(
        "mkdir -p /www && echo page-of-{name} > /www/index.html && exec httpd -f -p 80 -h /www"
    );
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(network);
    args.extend_from_slice(&[image, "sh", "-c", &script]);
    env.skiff(&args).stdout();
    format!("page-of-{name}\n")
}

#[test]
fn published_ports_reach_servers_in_the_container() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_nettools();
        let port = free_port();
        let published = format!("{port}:80");
        let page = web(&env, image, "web", &["-p", &published]);
        until("the published page", || {
            curl(port).as_deref() == Some(&page)
        });
        assert_eq!(
            env.skiff(&["port", "web"]).stdout(),
            format!("80/tcp -> 0.0.0.0:{port}\n")
        );
        assert_eq!(
            env.skiff(&["ps", "--format", "{{.Ports}}"]).stdout(),
            format!("0.0.0.0:{port}->80/tcp\n")
        );
        assert_eq!(
            env.skiff(&[
                "inspect",
                "--format",
                "{{json .NetworkSettings.Ports}}",
                "web"
            ])
            .stdout(),
            // The image's other exposed port is listed, unpublished.
            format!(
                "{{\"5353/udp\":null,\"80/tcp\":[{{\"HostIp\":\"\",\"HostPort\":\"{port}\"}}]}}\n"
            )
        );

        // The port is taken now: a second container is refused before it starts, by name.
        let (_, stderr) = env
            .skiff(&["run", "--rm", "-p", &published, image, "true"])
            .assert_exit(125);
        assert!(
            stderr.contains(&format!("0.0.0.0:{port}/tcp")) && stderr.contains("already in use"),
            "{stderr}"
        );

        // -P: every exposed port (the image's 80/tcp and 5353/udp) on a free host port.
        let page = web(&env, image, "all", &["-P"]);
        let host_port: u16 = env
            .skiff(&["port", "all", "80"])
            .stdout()
            .trim()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        until("the page behind -P", || {
            curl(host_port).as_deref() == Some(&page)
        });
        assert!(env
            .skiff(&["port", "all", "5353/udp"])
            .stdout()
            .starts_with("0.0.0.0:"));

        // slirp4netns forwards through its API socket.
        let slirp_port = free_port();
        let page = web(
            &env,
            image,
            "slirp",
            &[
                "--network",
                "slirp4netns",
                "-p",
                &format!("127.0.0.1:{slirp_port}:80"),
            ],
        );
        until("the page through slirp4netns", || {
            curl(slirp_port).as_deref() == Some(&page)
        });
        env.skiff(&["rm", "-f", "web", "all", "slirp"]).stdout();
        until("the port to be free again", || {
            TcpListener::bind(("0.0.0.0", port)).is_ok()
        });
    }
}

#[test]
fn udp_datagrams_reach_a_published_port() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_nettools();
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "listener",
            "-p",
            &format!("127.0.0.1:{port}:5353/udp"),
            image,
            "sh",
            "-c",
            "netcat -u -l 5353 > /tmp/received",
        ])
        .stdout();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        until("the datagram to arrive", || {
            socket
                .send_to(b"datagram-from-the-host\n", ("127.0.0.1", port))
                .unwrap();
            std::thread::sleep(Duration::from_millis(100));
            env.skiff(&["exec", "listener", "cat", "/tmp/received"])
                .stdout()
                .contains("datagram-from-the-host")
        });
        env.skiff(&["rm", "-f", "listener"]).stdout();
    }
}

/// The interface names of a /proc/net/dev, sorted, without the bridges and veths that tests
/// running alongside (as root, on the host) add and remove.
fn interface_names(proc_net_dev: &str) -> Vec<String> {
    let mut names: Vec<String> = proc_net_dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|n| n.trim().to_string())
        .filter(|n| !["skiff", "skc", "v"].iter().any(|p| n.starts_with(p)))
        .collect();
    names.sort();
    names
}

#[test]
fn network_modes_and_generated_files() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_nettools();
        let links = |args: &[&str]| {
            let mut all = vec!["run", "--rm"];
            all.extend_from_slice(args);
            all.extend_from_slice(&[image, "cat", "/proc/net/dev"]);
            interface_names(&env.skiff(&all).stdout())
        };
        assert_eq!(links(&["--network", "none"]), vec!["lo"]);
        let host = interface_names(&std::fs::read_to_string("/proc/net/dev").unwrap());
        assert_eq!(links(&["--network", "host"]), host);

        // container: shares the other's network: its server is on 127.0.0.1 here.
        let page = web(&env, image, "server", &[]);
        let fetch = [
            "run",
            "--rm",
            "--network",
            "container:server",
            image,
            "wget",
            "-qO-",
            "http://127.0.0.1:80/",
        ];
        until("the shared server", || {
            env.skiff(&fetch).output().stdout == page.as_bytes()
        });
        let sharing = |extra: &[&str]| {
            let mut args = vec!["run", "--rm", "--network", "container:server"];
            args.extend_from_slice(extra);
            args.extend_from_slice(&[image, "true"]);
            env.skiff(&args).assert_exit(125)
        };
        // Ports a shared network cannot have are dropped with Podman's warning.
        let (_, stderr) = env
            .skiff(&[
                "run",
                "--rm",
                "--network",
                "container:server",
                "-p",
                "8080:80",
                image,
                "true",
            ])
            .assert_exit(0);
        assert!(
            stderr.contains("Port mappings have been discarded because \"container\""),
            "{stderr}"
        );
        env.skiff(&[
            "create",
            "--name",
            "follower",
            "--network",
            "container:server",
            image,
            "true",
        ])
        .stdout();
        let (_, stderr) = env.skiff(&["rm", "-f", "server"]).assert_exit(125);
        assert!(stderr.contains("dependent containers"), "{stderr}");
        env.skiff(&["rm", "follower"]).stdout();
        env.skiff(&["stop", "-t", "0", "server"]).stdout();
        let (_, stderr) = sharing(&[]);
        assert!(stderr.contains("is not running"), "{stderr}");
        env.skiff(&["rm", "server"]).stdout();

        // /etc/hosts names the container; the DNS flags shape /etc/resolv.conf.
        let id = env
            .skiff(&[
                "create",
                "--name",
                "named",
                "--hostname",
                "box",
                "--add-host",
                "db.internal:10.1.2.3",
                "--dns",
                "10.9.9.9",
                "--dns-search",
                "corp.example",
                "--dns-option",
                "ndots:3",
                image,
                "sh",
                "-c",
                "cat /etc/hosts /etc/resolv.conf",
            ])
            .stdout();
        let out = env.skiff(&["start", "-a", "named"]).stdout();
        assert!(out.contains("10.1.2.3\tdb.internal\n"), "{out}");
        assert!(
            out.contains(&format!("box named {}", &id.trim()[..12])),
            "{out}"
        );
        assert!(
            out.contains("search corp.example\noptions ndots:3\nnameserver 10.9.9.9\n"),
            "{out}"
        );
        // --no-hosts keeps the image's file, which the test image does not have.
        let (out, err) = env
            .skiff(&["run", "--rm", "--no-hosts", image, "cat", "/etc/hosts"])
            .assert_exit(1);
        assert_eq!(out, "");
        assert_eq!(
            err,
            "cat: can't open '/etc/hosts': No such file or directory\n"
        );
    }
}

/// A network the host has a route to (not its default route), as ADDRESS/PREFIX.
fn host_route() -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let number = |i: usize| u32::from_str_radix(fields.get(i)?, 16).ok();
        let (destination, mask) = (number(1)?, number(7)?);
        // The bridges and client pairs of tests running alongside come and go.
        let transient = ["skiff", "skc"].iter().any(|p| fields[0].starts_with(p));
        (mask != 0 && !transient).then(|| {
            let address = std::net::Ipv4Addr::from(destination.to_ne_bytes());
            format!("{address}/{}", mask.count_ones())
        })
    })
}

#[test]
fn containers_on_a_user_defined_network_find_each_other() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_nettools();
        assert_eq!(
            env.skiff(&["network", "create", "--label", "team=a", "appnet"])
                .stdout(),
            "appnet\n"
        );
        let names = env
            .skiff(&["network", "ls", "--format", "{{.Name}}"])
            .stdout();
        assert_eq!(names, "podman\nhost\nnone\nappnet\n");
        let subnet = env
            .skiff(&[
                "network",
                "inspect",
                "--format",
                "{{range .Subnets}}{{.Subnet}}{{end}}",
                "appnet",
            ])
            .stdout();
        let subnet = subnet.trim().to_string();
        let (_, stderr) = env
            .skiff(&["network", "create", "--subnet", &subnet, "other"])
            .assert_exit(125);
        assert!(stderr.contains("overlaps"), "{stderr}");
        // A subnet the host routes to is refused too.
        if let Some(route) = host_route() {
            let (_, stderr) = env
                .skiff(&["network", "create", "--subnet", &route, "hidden"])
                .assert_exit(125);
            assert!(stderr.contains("the host reaches through"), "{stderr}");
        }

        let page = web(
            &env,
            image,
            "db",
            &["--network", "appnet", "--network-alias", "database"],
        );
        let address = env
            .skiff(&[
                "inspect",
                "--format",
                "{{.NetworkSettings.Networks.appnet.IPAddress}}",
                "db",
            ])
            .stdout();
        let address = address.trim();
        let fetch = |url: &str| {
            env.skiff(&[
                "run",
                "--rm",
                "--network",
                "appnet",
                image,
                "wget",
                "-qO-",
                url,
            ])
            .output()
            .stdout
        };
        let linked = env
            .skiff(&[
                "run",
                "--rm",
                "--network",
                "appnet",
                "--link",
                "db:store",
                image,
                "wget",
                "-qO-",
                "http://store/",
            ])
            .stdout();
        assert_eq!(linked, page, "--link names the container by its alias");
        for url in [
            "http://db/".to_string(),
            "http://database/".to_string(),
            format!("http://{address}/"),
        ] {
            assert_eq!(fetch(&url), page.as_bytes(), "{url}");
        }
        let refused_address = |ip: &str| {
            let args = [
                "run",
                "--rm",
                "--network",
                "appnet",
                "--ip",
                ip,
                image,
                "true",
            ];
            env.skiff(&args).assert_exit(125).1
        };
        let stderr = refused_address(address);
        assert!(stderr.contains("already taken"), "{stderr}");
        let stderr = refused_address("10.200.0.5");
        assert!(stderr.contains("outside"), "{stderr}");

        // A name resolves as soon as its container has started.
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "client",
            "--network",
            "appnet",
            // A name server that refuses at once: this host has no DNS to wait for, and the
            // names must come from /etc/hosts anyway.
            "--dns",
            "127.0.0.1",
            image,
            "sh",
            "-c",
            "until wget -qO /tmp/got http://late/; do sleep 0.1; done; sleep 600",
        ])
        .stdout();
        let late = web(&env, image, "late", &["--network", "appnet"]);
        let started = std::time::Instant::now();
        until("the late page", || {
            env.skiff(&["exec", "client", "cat", "/tmp/got"])
                .output()
                .stdout
                == late.as_bytes()
        });
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );

        // A stopped container joins a second network: it sees both bridges, and the route out
        // stays with the first.
        env.skiff(&["network", "create", "backnet"]).stdout();
        env.skiff(&[
            "create",
            "--name",
            "multi",
            "--network",
            "appnet",
            image,
            "sh",
            "-c",
            "cat /proc/net/dev; wget -qO- http://db/",
        ])
        .stdout();
        env.skiff(&["network", "connect", "backnet", "multi"])
            .stdout();
        // A running container gets its interface at once.
        env.skiff(&["network", "connect", "backnet", "client"])
            .stdout();
        let devices = env
            .skiff(&["exec", "client", "cat", "/proc/net/dev"])
            .stdout();
        assert!(devices.contains("eth1:"), "{devices}");
        // …and loses it at once.
        env.skiff(&["network", "disconnect", "backnet", "client"])
            .stdout();
        let devices = env
            .skiff(&["exec", "client", "cat", "/proc/net/dev"])
            .stdout();
        assert!(
            devices.contains("eth0:") && !devices.contains("eth1:"),
            "{devices}"
        );
        let out = env.skiff(&["start", "-a", "multi"]).stdout();
        assert!(out.contains("eth1:") && out.ends_with(&page), "{out}");
        env.skiff(&["network", "disconnect", "backnet", "multi"])
            .stdout();
        let (_, stderr) = env
            .skiff(&["network", "disconnect", "appnet", "multi"])
            .assert_exit(125);
        assert!(stderr.contains("only network"), "{stderr}");
        env.skiff(&["rm", "multi"]).stdout();

        let (_, stderr) = env.skiff(&["network", "rm", "appnet"]).assert_exit(125);
        assert!(stderr.contains("in use"), "{stderr}");
        env.skiff(&["rm", "-f", "db", "late", "client"]).stdout();
        if !env.as_root {
            assert!(
                !env.path("run/skiff/networks/netns.json").exists(),
                "the rootless network namespace goes with its last container"
            );
        }
        assert_eq!(env.skiff(&["network", "rm", "appnet"]).stdout(), "appnet\n");
        assert_eq!(env.skiff(&["network", "prune"]).stdout(), "backnet\n");
        let (_, stderr) = env
            .skiff(&["run", "--rm", "--network", "nowhere", image, "true"])
            .assert_exit(125);
        assert!(stderr.contains("network not found"), "{stderr}");
    }
}

#[test]
fn network_prune_filters_by_until_and_labels() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        for (name, labels) in [
            ("net-a", &["--label", "team=a"][..]),
            ("net-b", &["--label", "team=b"][..]),
            ("net-n", &[][..]),
            ("net-busy", &["--label", "team=a"][..]),
        ] {
            let mut args = vec!["network", "create"];
            args.extend_from_slice(labels);
            args.push(name);
            env.skiff(&args).stdout();
        }
        // A network a container is on stays, whatever the filters say.
        env.skiff(&["create", "--network", "net-busy", image, "true"])
            .stdout();
        let prune = |filters: &[&str]| {
            let mut args = vec!["network", "prune"];
            for filter in filters {
                args.extend_from_slice(&["--filter", filter]);
            }
            env.skiff(&args).stdout()
        };
        // All of them are younger than an hour.
        assert_eq!(prune(&["until=1h"]), "");
        assert_eq!(prune(&["label=team=a"]), "net-a\n");
        assert_eq!(prune(&["label!=team"]), "net-n\n");
        assert_eq!(prune(&["label=team=b", "until=2000-01-01T00:00:00Z"]), "");
        assert_eq!(prune(&["label=team", UNTIL_THE_FUTURE]), "net-b\n");
        let (stdout, stderr) = env
            .skiff(&["network", "prune", "--filter", "dangling=true"])
            .assert_exit(125);
        assert_eq!(stdout, "");
        assert!(
            stderr.contains("network prune filters by until=, label= and label!="),
            "{stderr}"
        );
        let left = env.skiff(&["network", "ls", "-q"]).stdout();
        assert!(left.contains("net-busy\n"), "{left}");
        assert!(!left.contains("net-a\n"), "{left}");
        env.skiff(&["rm", "--all"]).stdout();
        assert_eq!(prune(&[]), "net-busy\n");
    }
}

/// A UDP port on 127.0.0.1 nothing uses now.
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn ports_published_from_a_user_defined_network() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_nettools();
        env.skiff(&["network", "create", "published"]).stdout();
        let port = free_port();
        let page = web(
            &env,
            image,
            "netweb",
            &["--network", "published", "-p", &format!("{port}:80")],
        );
        until("the page on a user-defined network", || {
            curl(port).as_deref() == Some(&page)
        });
        assert_eq!(
            env.skiff(&["port", "netweb"]).stdout(),
            format!("80/tcp -> 0.0.0.0:{port}\n")
        );

        // A datagram in, and the answer back to the one who sent it.
        let udp_port = free_udp_port();
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "echo",
            "--network",
            "published",
            "-p",
            &format!("127.0.0.1:{udp_port}:5353/udp"),
            image,
            "sh",
            "-c",
            "echo answer | netcat -u -l 5353",
        ])
        .stdout();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        until("the UDP answer", || {
            socket
                .send_to(b"question\n", ("127.0.0.1", udp_port))
                .unwrap();
            let mut answer = [0u8; 64];
            matches!(socket.recv(&mut answer), Ok(n) if &answer[..n] == b"answer\n")
        });

        env.skiff(&["rm", "-f", "netweb", "echo"]).stdout();
        until("the ports to be free again", || {
            TcpListener::bind(("0.0.0.0", port)).is_ok()
                && UdpSocket::bind(("127.0.0.1", udp_port)).is_ok()
        });
        env.skiff(&["network", "rm", "published"]).stdout();
    }
}

/// A network namespace of the test's with a veth pair to the host: a client that is not on
/// loopback, so its address is one a server can be shown. Removed on drop.
struct OutsideClient {
    namespace: String,
}

impl OutsideClient {
    const HOST_ADDRESS: &str = "10.231.0.1";
    const CLIENT_ADDRESS: &str = "10.231.0.2";

    fn new() -> Self {
        let namespace = format!("skiff-it-client-{}", std::process::id());
        let outer = format!("skc{}", std::process::id());
        let ip = |args: &str| {
            let status = Command::new("ip")
                .args(args.split_whitespace())
                .status()
                .unwrap();
            assert!(status.success(), "ip {args}");
        };
        ip(&format!("netns add {namespace}"));
        let client = OutsideClient { namespace };
        let ns = &client.namespace;
        ip(&format!(
            "link add {outer} type veth peer name eth0 netns {ns}"
        ));
        ip(&format!("addr add {}/24 dev {outer}", Self::HOST_ADDRESS));
        ip(&format!("link set {outer} up"));
        ip(&format!(
            "-n {ns} addr add {}/24 dev eth0",
            Self::CLIENT_ADDRESS
        ));
        ip(&format!("-n {ns} link set eth0 up"));
        client
    }

    fn fetch(&self, port: u16, path: &str) -> Option<String> {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.namespace,
                "curl",
                "-sf",
                "--max-time",
                "2",
            ])
            .arg(format!("http://{}:{port}{path}", Self::HOST_ADDRESS))
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for OutsideClient {
    fn drop(&mut self) {
        // The host's end of the pair goes with the namespace.
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.namespace])
            .status();
    }
}

/// Whether pasta `pid` is past its set-up: it confines itself with seccomp once ready.
fn pasta_ready(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|status| {
        status
            .lines()
            .any(|l| l.split_whitespace().eq(["Seccomp:", "2"]))
    })
}

#[test]
fn pasta_goes_with_its_container_whenever_the_container_ends() {
    // A container with no published port may exec once pasta has configured its namespace,
    // before pasta's own set-up ends; one that is done by then stops a pasta still starting.
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        // pasta's command line names its pid file, in this environment's runtime directory.
        let run_dir = env.path("run").to_string_lossy().into_owned();
        for _ in 0..3 {
            let out = env
                .skiff(&[
                    "run",
                    "--rm",
                    image,
                    "sh",
                    "-c",
                    "ip route | grep -c ^default",
                ])
                .stdout();
            assert_eq!(out, "1\n", "a default route at exec");
        }
        until("no pasta left for the containers that ran", || {
            pastas_under(&run_dir).is_empty()
        });
        // One that outlives pasta's start-up, removed while it runs.
        env.skiff(&["run", "-d", "--name", "lasting", image, "sleep", "600"])
            .stdout();
        until("its pasta running", || !pastas_under(&run_dir).is_empty());
        until("its pasta past its set-up", || {
            pastas_under(&run_dir).into_iter().all(pasta_ready)
        });
        // skiff blocks the signals it forwards; pasta must not inherit that, or it never reaps
        // the clones it enters the namespaces with.
        for pid in pastas_under(&run_dir) {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
            assert!(
                status.lines().any(|l| l == "SigBlk:\t0000000000000000"),
                "{status}"
            );
        }
        env.skiff(&["rm", "-f", "lasting"]).stdout();
        until("no pasta left for the removed container", || {
            pastas_under(&run_dir).is_empty()
        });
    }
}

#[test]
fn pasta_keeps_the_client_address() {
    let test = skiff_test!();
    if test.lacks_root("making a client namespace with a veth to the host") {
        return;
    }
    let client = OutsideClient::new();
    for env in test.each_env() {
        let image = env.load_nettools();
        let port = free_port();
        let script = "mkdir -p /www/cgi-bin && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n' > /www/cgi-bin/peer && chmod +x /www/cgi-bin/peer && exec httpd -f -p 80 -h /www";
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "peer",
            "-p",
            &format!("{port}:80"),
            image,
            "sh",
            "-c",
            script,
        ])
        .stdout();
        let mut seen = None;
        until("the page from outside the host's loopback", || {
            seen = client.fetch(port, "/cgi-bin/peer");
            seen.is_some()
        });
        let seen = seen.unwrap_or_default();
        assert!(
            seen.trim()
                .trim_matches(['[', ']'])
                .ends_with(OutsideClient::CLIENT_ADDRESS),
            "the container saw {seen:?}"
        );
        env.skiff(&["rm", "-f", "peer"]).stdout();
    }
}

#[test]
fn a_missing_network_helper_is_a_clear_error() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_nettools();
        // Only what a rootless start needs besides: the id-mapping helpers.
        let bin = env.path("bin-without-helpers");
        std::fs::create_dir_all(&bin).unwrap();
        for tool in ["newuidmap", "newgidmap"] {
            std::os::unix::fs::symlink(format!("/usr/bin/{tool}"), bin.join(tool)).unwrap();
        }
        env.give(&bin);
        let path = bin.to_str().unwrap();
        let (_, stderr) = env
            .skiff_with_path(path, &["run", "--rm", image, "true"])
            .assert_exit(125);
        assert!(
            stderr.contains("neither pasta nor slirp4netns is installed")
                && stderr.contains("--network none"),
            "{stderr}"
        );
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        let (_, stderr) = env
            .skiff_with_path(path, &["run", "--rm", "--network", "pasta", image, "true"])
            .assert_exit(125);
        assert!(stderr.contains("pasta is not installed"), "{stderr}");
        // Nothing was made.
        assert_eq!(env.skiff(&["ps", "-aq"]).stdout(), "");
        // A container without a network needs neither.
        env.skiff_with_path(path, &["run", "--rm", "--network", "none", image, "true"])
            .stdout();
    }
}
