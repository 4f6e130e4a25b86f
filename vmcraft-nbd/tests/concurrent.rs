//! Tier 3: eight images (four raw through loop, four qcow2 through the storage
//! daemon) attached at the same time from four threads, each written and read
//! back independently, all detached, nothing left.

mod common;

use std::collections::HashSet;
use std::sync::{Barrier, Mutex};

use common::{assert_no_leaks, create_image, opts, privileged};
use vmcraft_block::BlockDevice;
use vmcraft_block::testing::TestEnv;
use vmcraft_nbd::{Backend, Format, attach};

#[test]
fn eight_images_from_four_threads() {
    if !privileged("concurrent attach") {
        return;
    }
    let env = TestEnv::new("eight");
    let images: Vec<_> = (0..8)
        .map(|i| {
            if i % 2 == 0 {
                env.sparse_image(&format!("disk{i}.img"), 16 << 20)
            } else {
                create_image(&env, &format!("disk{i}.qcow2"), Format::Qcow2, "16M", "")
            }
        })
        .collect();
    let all_attached = Barrier::new(4);
    let devices = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..4 {
            let (images, env, all_attached, devices) = (&images, &env, &all_attached, &devices);
            s.spawn(move || {
                let mine: Vec<_> = [2 * t, 2 * t + 1]
                    .into_iter()
                    .map(|i| (i, attach(&images[i], opts(env)).unwrap()))
                    .collect();
                for (i, att) in &mine {
                    let want = if i % 2 == 0 {
                        Backend::Loop
                    } else {
                        Backend::StorageDaemon
                    };
                    assert_eq!(att.backend(), want);
                    att.write_at(&[*i as u8 + 1; 8192], 1 << 20).unwrap();
                    devices.lock().unwrap().push(att.device().to_path_buf());
                }
                // Every image is attached at this point.
                all_attached.wait();
                for (i, att) in &mine {
                    let mut buf = [0u8; 8192];
                    att.read_at(&mut buf, 1 << 20).unwrap();
                    assert_eq!(buf, [*i as u8 + 1; 8192], "image {i}");
                }
                for (_, att) in mine {
                    att.detach().unwrap();
                }
            });
        }
    });
    let devices = devices.into_inner().unwrap();
    let distinct: HashSet<_> = devices.iter().collect();
    assert_eq!(distinct.len(), 8, "{devices:?}");
    // Each image kept its own data.
    for (i, image) in images.iter().enumerate() {
        let att = attach(image, opts(&env).readonly(true)).unwrap();
        let mut buf = [0u8; 8192];
        att.read_at(&mut buf, 1 << 20).unwrap();
        assert_eq!(buf, [i as u8 + 1; 8192], "image {i}");
    }
    assert_no_leaks(&env);
}
