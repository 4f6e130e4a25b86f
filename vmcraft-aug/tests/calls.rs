//! Every `aug_*` call against real lenses and real files in a temporary guest
//! root, with libguestfs's return values and error cases.

mod common;

use common::{Guest, need_root, print_tree};
use vmcraft_aug::{AugFlags, Augeas, ErrorKind, IntBool};

const HOSTS: &str = "127.0.0.1 localhost localhost.localdomain\n\
                     192.0.2.10 db db.example.com\n\
                     # a comment\n\
                     192.0.2.20 web\n";

fn guest(label: &str) -> Guest {
    let g = Guest::new(label);
    g.write("/etc/hosts", HOSTS);
    g
}

#[test]
fn aug_get_returns_values_and_refuses_zero_or_many_matches() {
    if !need_root() {
        return;
    }
    let g = guest("get");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    assert_eq!(
        aug.aug_get("/files/etc/hosts/1/ipaddr").unwrap(),
        "127.0.0.1"
    );
    assert_eq!(
        aug.aug_get("/files/etc/hosts/*[canonical = 'db']/alias")
            .unwrap(),
        "db.example.com"
    );

    let e = aug.aug_get("/files/etc/hosts/99/ipaddr").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoMatch);
    assert_eq!(
        e.to_string(),
        "aug_get: /files/etc/hosts/99/ipaddr: no matching node"
    );

    let e = aug.aug_get("/files/etc/hosts/*/ipaddr").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooManyMatches);
    assert_eq!(
        e.to_string(),
        "aug_get: /files/etc/hosts/*/ipaddr: Too many matches for path expression: \
         There are 3 nodes matching /files/etc/hosts/*/ipaddr"
    );
    assert!(e.diagnosis().is_some());

    let e = aug.aug_get("/files/etc/hosts").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoValue);
    assert_eq!(
        e.to_string(),
        "aug_get: /files/etc/hosts: the node has no value (augeas returned NULL)"
    );

    let e = aug.aug_get("/files/etc/hosts/[[[").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidPath);
    assert!(
        e.to_string()
            .starts_with("aug_get: /files/etc/hosts/[[[: Invalid path expression"),
        "{e}"
    );
}

#[test]
fn aug_set_changes_and_creates_nodes_and_save_writes_them() {
    if !need_root() {
        return;
    }
    let g = guest("set");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    aug.aug_set("/files/etc/hosts/3/ipaddr", "192.0.2.21")
        .unwrap();
    aug.aug_set("/files/etc/hosts/1/alias[last()+1]", "lh")
        .unwrap();
    aug.aug_set("/files/etc/hosts/4/ipaddr", "192.0.2.30")
        .unwrap();
    aug.aug_set("/files/etc/hosts/4/canonical", "cache")
        .unwrap();
    assert_eq!(
        aug.aug_get("/files/etc/hosts/4/canonical").unwrap(),
        "cache"
    );
    assert_eq!(
        g.read("/etc/hosts"),
        HOSTS,
        "nothing is written before aug_save"
    );
    aug.aug_save().unwrap();
    assert_eq!(
        g.read("/etc/hosts"),
        "127.0.0.1 localhost localhost.localdomain lh\n\
         192.0.2.10 db db.example.com\n\
         # a comment\n\
         192.0.2.21 web\n\
         192.0.2.30\tcache\n"
    );
    let e = aug.aug_set("/files/etc/hosts/*/ipaddr", "x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooManyMatches);
    assert!(
        e.to_string()
            .starts_with("aug_set: /files/etc/hosts/*/ipaddr: x: Too many matches"),
        "{e}"
    );
}

#[test]
fn aug_clear_sets_no_value() {
    if !need_root() {
        return;
    }
    let g = guest("clear");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    aug.aug_clear("/files/etc/hosts/2/alias").unwrap();
    assert_eq!(
        aug.aug_get("/files/etc/hosts/2/alias").unwrap_err().kind(),
        ErrorKind::NoValue
    );
    aug.aug_clear("/files/etc/hosts/9/new").unwrap();
    assert_eq!(aug.aug_match("/files/etc/hosts/9/new").unwrap().len(), 1);
    let e = aug.aug_clear("/files/etc/hosts/*").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooManyMatches);
}

#[test]
fn aug_setm_changes_every_match_and_counts_them() {
    if !need_root() {
        return;
    }
    let g = guest("setm");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    assert_eq!(
        aug.aug_setm("/files/etc/hosts/*[ipaddr]", Some("alias[last()+1]"), "all")
            .unwrap(),
        3
    );
    // No sub: the base nodes themselves.
    assert_eq!(
        aug.aug_setm("/files/etc/hosts/*/canonical", None, "same")
            .unwrap(),
        3
    );
    assert_eq!(
        aug.aug_setm("/files/etc/hosts/*[ipaddr = 'none']", Some("x"), "y")
            .unwrap(),
        0
    );
    aug.aug_save().unwrap();
    assert_eq!(
        g.read("/etc/hosts"),
        "127.0.0.1 same localhost.localdomain all\n\
         192.0.2.10 same db.example.com all\n\
         # a comment\n\
         192.0.2.20 same all\n"
    );
}

#[test]
fn aug_insert_places_siblings_before_or_after() {
    if !need_root() {
        return;
    }
    let g = guest("insert");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    aug.aug_insert("/files/etc/hosts/1", "01", true).unwrap();
    aug.aug_insert("/files/etc/hosts/2", "21", false).unwrap();
    assert_eq!(
        aug.aug_match("/files/etc/hosts/*").unwrap(),
        [
            "/files/etc/hosts/01",
            "/files/etc/hosts/1",
            "/files/etc/hosts/2",
            "/files/etc/hosts/21",
            "/files/etc/hosts/#comment",
            "/files/etc/hosts/3",
        ]
    );
    for (node, ip, name) in [("01", "192.0.2.1", "first"), ("21", "192.0.2.2", "second")] {
        aug.aug_set(&format!("/files/etc/hosts/{node}/ipaddr"), ip)
            .unwrap();
        aug.aug_set(&format!("/files/etc/hosts/{node}/canonical"), name)
            .unwrap();
    }
    aug.aug_save().unwrap();
    assert_eq!(
        g.read("/etc/hosts"),
        "192.0.2.1\tfirst\n\
         127.0.0.1 localhost localhost.localdomain\n\
         192.0.2.10 db db.example.com\n\
         192.0.2.2\tsecond\n\
         # a comment\n\
         192.0.2.20 web\n"
    );
    let e = aug
        .aug_insert("/files/etc/hosts/77", "x", true)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoMatch);
    assert_eq!(
        e.to_string(),
        "aug_insert: /files/etc/hosts/77: no matching node"
    );
    let e = aug.aug_insert("/files/etc/hosts/*", "x", true).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooManyMatches);
    assert_eq!(
        e.to_string(),
        "aug_insert: /files/etc/hosts/*: x [before=1]: 6 nodes match; aug_insert needs exactly one"
    );
}

#[test]
fn aug_rm_returns_the_number_of_nodes_removed() {
    if !need_root() {
        return;
    }
    let g = guest("rm");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    // Entry 2 and its ipaddr, canonical and alias.
    assert_eq!(aug.aug_rm("/files/etc/hosts/2").unwrap(), 4);
    assert_eq!(aug.aug_rm("/files/etc/hosts/2").unwrap(), 0);
    assert_eq!(
        aug.aug_rm("/files/etc/hosts/*[canonical = 'web']").unwrap(),
        3
    );
    aug.aug_save().unwrap();
    assert_eq!(
        g.read("/etc/hosts"),
        "127.0.0.1 localhost localhost.localdomain\n# a comment\n"
    );
    let e = aug.aug_rm("/files/etc/hosts/[").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidPath);
}

#[test]
fn aug_mv_moves_one_node() {
    if !need_root() {
        return;
    }
    let g = guest("mv");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    aug.aug_mv("/files/etc/hosts/1", "/files/etc/hosts/9")
        .unwrap();
    assert_eq!(
        aug.aug_get("/files/etc/hosts/9/ipaddr").unwrap(),
        "127.0.0.1"
    );
    assert!(aug.aug_match("/files/etc/hosts/1").unwrap().is_empty());

    let e = aug
        .aug_mv("/files/etc/hosts/1", "/files/etc/hosts/10")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoMatch);
    let e = aug.aug_mv("/files/etc/hosts/*", "/files/x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooManyMatches);
    let e = aug
        .aug_mv("/files/etc/hosts/2", "/files/etc/hosts/2/x")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        e.to_string(),
        "aug_mv: /files/etc/hosts/2: /files/etc/hosts/2/x: Cannot move node into its descendant: \
         destination /files/etc/hosts/2/x is a descendant of /files/etc/hosts/2"
    );
}

#[test]
fn aug_match_returns_fully_qualified_paths_in_order() {
    if !need_root() {
        return;
    }
    let g = guest("match");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    assert_eq!(
        aug.aug_match("/files/etc/hosts/*").unwrap(),
        [
            "/files/etc/hosts/1",
            "/files/etc/hosts/2",
            "/files/etc/hosts/#comment",
            "/files/etc/hosts/3",
        ]
    );
    assert_eq!(
        aug.aug_match("/files/etc/hosts/*[canonical =~ regexp('d.*')]/alias")
            .unwrap(),
        ["/files/etc/hosts/2/alias"]
    );
    assert_eq!(
        aug.aug_match("/files/etc/hosts/1/alias").unwrap(),
        ["/files/etc/hosts/1/alias"]
    );
    assert!(aug.aug_match("/files/etc/nothing").unwrap().is_empty());
    let e = aug.aug_match("/files/etc/hosts/*[").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidPath);
    assert!(
        e.to_string()
            .starts_with("aug_match: /files/etc/hosts/*[: Invalid path expression"),
        "{e}"
    );
}

#[test]
fn aug_ls_lists_children_sorted() {
    if !need_root() {
        return;
    }
    let g = guest("ls");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    assert_eq!(
        aug.aug_ls("/files/etc/hosts").unwrap(),
        [
            "/files/etc/hosts/#comment",
            "/files/etc/hosts/1",
            "/files/etc/hosts/2",
            "/files/etc/hosts/3",
        ]
    );
    assert_eq!(aug.aug_ls("/").unwrap(), ["/augeas", "/files"]);
    assert!(aug.aug_ls("/files/nothing").unwrap().is_empty());
    aug.aug_defvar("h", Some("/files/etc/hosts/2")).unwrap();
    assert_eq!(
        aug.aug_ls("$h").unwrap(),
        [
            "/files/etc/hosts/2/alias",
            "/files/etc/hosts/2/canonical",
            "/files/etc/hosts/2/ipaddr",
        ]
    );
    let e = aug.aug_ls("/files/etc/").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn aug_label_names_one_node() {
    if !need_root() {
        return;
    }
    let g = guest("label");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    assert_eq!(
        aug.aug_label("/files/etc/hosts/1/ipaddr").unwrap(),
        "ipaddr"
    );
    assert_eq!(aug.aug_label("/files/etc/hosts/*[3]").unwrap(), "#comment");
    let e = aug.aug_label("/files/etc/hosts/5").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoMatch);
    assert_eq!(
        e.to_string(),
        "aug_label: /files/etc/hosts/5: no matching nodes found"
    );
    let e = aug.aug_label("/files/etc/hosts/*").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooManyMatches);
}

#[test]
fn aug_defvar_returns_the_node_count() {
    if !need_root() {
        return;
    }
    let g = guest("defvar");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    assert_eq!(
        aug.aug_defvar("entries", Some("/files/etc/hosts/*[ipaddr]"))
            .unwrap(),
        3
    );
    assert_eq!(aug.aug_get("$entries[2]/canonical").unwrap(), "db");
    assert_eq!(
        aug.aug_defvar("none", Some("/files/etc/nothing")).unwrap(),
        0
    );
    assert_eq!(aug.aug_defvar("text", Some("'a string'")).unwrap(), 0);
    assert_eq!(aug.aug_defvar("entries", None).unwrap(), 0);
    let e = aug.aug_get("$entries[2]/canonical").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidPath, "{e}");
    let e = aug.aug_defvar("bad", Some("/files/[")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidPath);
    assert!(
        e.to_string()
            .starts_with("aug_defvar: bad: /files/[: Invalid path expression"),
        "{e}"
    );
}

#[test]
fn aug_defnode_reports_nodes_and_creation() {
    if !need_root() {
        return;
    }
    let g = guest("defnode");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    assert_eq!(
        aug.aug_defnode("db", "/files/etc/hosts/*[canonical = 'db']", "")
            .unwrap(),
        IntBool { i: 1, b: false }
    );
    assert_eq!(aug.aug_get("$db/ipaddr").unwrap(), "192.0.2.10");
    assert_eq!(
        aug.aug_defnode("all", "/files/etc/hosts/*/ipaddr", "x")
            .unwrap(),
        IntBool { i: 3, b: false }
    );
    assert_eq!(
        aug.aug_defnode("new", "/files/etc/hosts/4/ipaddr", "192.0.2.40")
            .unwrap(),
        IntBool { i: 1, b: true }
    );
    assert_eq!(
        aug.aug_get("/files/etc/hosts/4/ipaddr").unwrap(),
        "192.0.2.40"
    );
    assert_eq!(aug.aug_get("$new").unwrap(), "192.0.2.40");
}

#[test]
fn aug_transform_adds_and_removes_files() {
    if !need_root() {
        return;
    }
    let g = guest("transform");
    g.write("/etc/hosts.extra", "10.1.1.1 extra\n");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    assert!(aug.aug_match("/files/etc/hosts.extra").unwrap().is_empty());
    aug.aug_transform("Hosts", "/etc/hosts.extra", false)
        .unwrap();
    aug.aug_load().unwrap();
    assert_eq!(
        aug.aug_get("/files/etc/hosts.extra/1/canonical").unwrap(),
        "extra"
    );
    aug.aug_transform("Hosts.lns", "/etc/hosts", true).unwrap();
    aug.aug_load().unwrap();
    assert!(aug.aug_match("/files/etc/hosts").unwrap().is_empty());
    assert_eq!(
        aug.aug_get("/files/etc/hosts.extra/1/ipaddr").unwrap(),
        "10.1.1.1"
    );
}

#[test]
fn aug_load_discards_unsaved_changes() {
    if !need_root() {
        return;
    }
    let g = guest("load");
    let aug = Augeas::init(&g.root, AugFlags::empty()).unwrap();
    aug.aug_set("/files/etc/hosts/1/ipaddr", "10.9.9.9")
        .unwrap();
    aug.aug_load().unwrap();
    assert_eq!(
        aug.aug_get("/files/etc/hosts/1/ipaddr").unwrap(),
        "127.0.0.1"
    );
    // A file changed on disk is read again. Augeas compares whole-second
    // mtimes, so make the change visible to it.
    g.write("/etc/hosts", "10.0.0.5 changed\n");
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(g.path("/etc/hosts"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    aug.aug_load().unwrap();
    assert_eq!(
        aug.aug_get("/files/etc/hosts/1/canonical").unwrap(),
        "changed"
    );
}

#[test]
fn aug_close_and_reinit() {
    if !need_root() {
        return;
    }
    let first = guest("close-a");
    let second = Guest::new("close-b");
    second.write("/etc/hosts", "10.2.2.2 second\n");
    let aug = Augeas::init(&first.root, AugFlags::empty()).unwrap();
    assert_eq!(aug.root().unwrap(), first.root.canonicalize().unwrap());
    assert_eq!(aug.flags(), Some(AugFlags::empty()));

    // Re-init closes the first handle and opens the second.
    aug.aug_init(&second.root, AugFlags::SAVE_BACKUP).unwrap();
    assert_eq!(aug.root().unwrap(), second.root.canonicalize().unwrap());
    assert_eq!(aug.flags(), Some(AugFlags::SAVE_BACKUP));
    assert_eq!(
        aug.aug_get("/files/etc/hosts/1/canonical").unwrap(),
        "second"
    );

    aug.aug_close().unwrap();
    assert!(!aug.is_open());
    let e = aug.aug_get("/files/etc/hosts/1/canonical").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotInitialised);
    assert_eq!(
        aug.aug_close().unwrap_err().kind(),
        ErrorKind::NotInitialised
    );

    // A failed re-init leaves the handle closed.
    aug.aug_init(&first.root, AugFlags::empty()).unwrap();
    let e = aug
        .aug_init(&first.root.join("missing"), AugFlags::empty())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(!aug.is_open());
}

#[test]
fn one_handle_serves_several_threads() {
    if !need_root() {
        return;
    }
    let g = guest("threads");
    let aug = std::sync::Arc::new(Augeas::init(&g.root, AugFlags::empty()).unwrap());
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let aug = aug.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let path = format!("/files/etc/hosts/1/alias[. = 't{t}-{i}']");
                    aug.aug_set(&path, &format!("t{t}-{i}")).unwrap();
                    assert_eq!(aug.aug_get(&path).unwrap(), format!("t{t}-{i}"));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        aug.aug_match("/files/etc/hosts/1/alias").unwrap().len(),
        201
    );
    let printed = print_tree(&aug, "/files/etc/hosts/2");
    assert_eq!(
        printed,
        "/files/etc/hosts/2\n\
         /files/etc/hosts/2/ipaddr = \"192.0.2.10\"\n\
         /files/etc/hosts/2/canonical = \"db\"\n\
         /files/etc/hosts/2/alias = \"db.example.com\"\n"
    );
}
