//! An upload's body, as JSON and as postcard, checked and decoded for a node: no panic; what is
//! accepted is an inventory that says it is that node's (or does not say), and reads back.
#![no_main]

use agent::serve::http::{UploadFormat, decode_upload};
use netboot_proto::Mac;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mac = Mac([0x52, 0x54, 0, 0, 0, 1]);
    for format in [UploadFormat::Json, UploadFormat::Postcard] {
        match decode_upload(format, data, mac) {
            Ok(d) => {
                let back: inventory::model::Inventory =
                    serde_json::from_slice(&d.json).expect("stored JSON reads back");
                if let Some(b) = &back.run.boot_mac {
                    assert_eq!(Mac::parse(b), Some(mac));
                }
            }
            Err(rej) => assert!((400..600).contains(&rej.status)),
        }
    }
});
