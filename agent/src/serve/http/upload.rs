//! Uploaded inventories: the body's media type, decoding (JSON or postcard) and checks.

use netboot_proto::Mac;

use super::head::Reject;

/// How an upload's body is encoded, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadFormat {
    /// `application/json`.
    Json,
    /// `application/postcard`: `postcard::to_stdvec` of the same type.
    Postcard,
}

/// The upload format a `Content-Type` names (415 for others).
pub fn upload_format(content_type: Option<&str>) -> Result<UploadFormat, Reject> {
    let Some(ct) = content_type else {
        return Err(Reject::new(415, "no Content-Type: send application/json or application/postcard"));
    };
    // Parameters (`; charset=utf-8`) do not change the type (RFC 9110, section 8.3.1).
    let media = ct.split(';').next().unwrap_or_default().trim();
    if media.eq_ignore_ascii_case("application/json") {
        Ok(UploadFormat::Json)
    } else if media.eq_ignore_ascii_case("application/postcard") {
        Ok(UploadFormat::Postcard)
    } else {
        Err(Reject::new(415, format!("Content-Type {media:?}: send application/json or application/postcard")))
    }
}

/// An upload, decoded and checked.
#[derive(Debug)]
pub struct Decoded {
    /// The inventory as the store keeps it: pretty JSON.
    pub json: Vec<u8>,
    /// What the board and the reports show of it at a glance.
    pub summary: crate::serve::fleet::Summary,
}

/// Decodes and checks an uploaded inventory for the node `mac`: the pretty JSON the store keeps
/// and its summary. Refusals are 400s with a one-line reason.
pub fn decode_upload(format: UploadFormat, body: &[u8], mac: Mac) -> Result<Decoded, Reject> {
    use inventory::model::{Inventory, OLDEST_JSON_SCHEMA, SCHEMA};
    let inv: Inventory = match format {
        UploadFormat::Json => {
            serde_json::from_slice(body).map_err(|e| Reject::new(400, format!("not an inventory in JSON: {e}")))?
        }
        UploadFormat::Postcard => {
            // The schema is the first field: checked before the rest is decoded with a layout
            // that is this schema's only.
            let (schema, _) = postcard::take_from_bytes::<u32>(body)
                .map_err(|e| Reject::new(400, format!("not an inventory in postcard: {e}")))?;
            if schema != SCHEMA {
                return Err(Reject::new(
                    400,
                    format!(
                        "not an inventory in postcard at schema {SCHEMA}, the only one this master reads: schema {schema}"
                    ),
                ));
            }
            let (inv, rest) = postcard::take_from_bytes::<Inventory>(body)
                .map_err(|e| Reject::new(400, format!("not an inventory in postcard: {e}")))?;
            if !rest.is_empty() {
                return Err(Reject::new(400, format!("{} octets after the inventory", rest.len())));
            }
            inv
        }
    };
    if !(OLDEST_JSON_SCHEMA..=SCHEMA).contains(&inv.schema) {
        return Err(Reject::new(
            400,
            format!("inventory schema {} but this master reads schema {OLDEST_JSON_SCHEMA} to {SCHEMA}", inv.schema),
        ));
    }
    // The agent writes the MAC it booted from; an inventory filed under another node's MAC is
    // a mix-up worth refusing.
    if let Some(boot) = &inv.run.boot_mac
        && Mac::parse(boot) != Some(mac)
    {
        return Err(Reject::new(400, format!("the inventory's run.boot_mac {boot} is not {mac}")));
    }
    let json = serde_json::to_vec_pretty(&inv).map_err(|e| Reject::new(500, format!("encoding the inventory: {e}")))?;
    Ok(Decoded { json, summary: crate::serve::fleet::Summary::of(&inv) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_checked() {
        use inventory::model::{Inventory, SCHEMA};
        let mut inv = Inventory { schema: SCHEMA, ..Inventory::default() };
        inv.run.hostname = Some("n1".into());
        inv.run.boot_mac = Some("52:54:00:00:00:01".into());
        let mac = Mac([0x52, 0x54, 0, 0, 0, 1]);
        let json = serde_json::to_vec(&inv).unwrap();
        let pc = postcard::to_stdvec(&inv).unwrap();
        for (f, body) in [(UploadFormat::Json, &json), (UploadFormat::Postcard, &pc)] {
            let stored = decode_upload(f, body, mac).unwrap();
            assert_eq!(serde_json::from_slice::<Inventory>(&stored.json).unwrap(), inv);
            assert_eq!(stored.summary.hostname.as_deref(), Some("n1"));
        }
        let status = |f, b: &[u8], m: Mac| decode_upload(f, b, m).unwrap_err();
        assert!(status(UploadFormat::Json, b"{garbage", mac).reason.starts_with("not an inventory in JSON"));
        assert_eq!(status(UploadFormat::Postcard, b"\xff\xff", mac).status, 400);
        let mut longer = pc.clone();
        longer.push(0);
        assert_eq!(status(UploadFormat::Postcard, &longer, mac).reason, "1 octets after the inventory");
        assert!(status(UploadFormat::Json, &json, Mac([0x52, 0x54, 0, 0, 0, 2])).reason.contains("run.boot_mac"));
        let newer = serde_json::to_vec(&Inventory { schema: SCHEMA + 1, ..Inventory::default() }).unwrap();
        assert!(status(UploadFormat::Json, &newer, mac).reason.contains("schema"));
        // An older schema's JSON reads, its later fields empty; its postcard is refused before
        // its layout is taken for this one's.
        let mut older = serde_json::to_value(Inventory { schema: 1, ..Inventory::default() }).unwrap();
        older["run"].as_object_mut().unwrap().remove("timings");
        let stored = decode_upload(UploadFormat::Json, &serde_json::to_vec(&older).unwrap(), mac).unwrap();
        assert_eq!(serde_json::from_slice::<Inventory>(&stored.json).unwrap().schema, 1);
        let old_pc = postcard::to_stdvec(&Inventory { schema: 1, ..Inventory::default() }).unwrap();
        assert!(status(UploadFormat::Postcard, &old_pc, mac).reason.ends_with("reads: schema 1"));
        assert_eq!(upload_format(Some("Application/JSON; charset=utf-8")), Ok(UploadFormat::Json));
        assert_eq!(upload_format(Some("application/postcard")), Ok(UploadFormat::Postcard));
        assert_eq!(upload_format(Some("text/plain")).unwrap_err().status, 415);
        assert_eq!(upload_format(None).unwrap_err().status, 415);
    }
}
