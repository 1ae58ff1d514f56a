//! SMBIOS tables (DSP0134) and entry points as the kernel exposes them: no panic, and every
//! structure's strings and fields are read within the table.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = inventory::smbios::EntryPoint::parse(data);
    let (structs, _err) = inventory::smbios::structures(data);
    for s in &structs {
        for at in [0usize, 1, 4, 5, 8, 0x10, 0x18, 0x1c] {
            let _ = (s.u8(at), s.u16(at), s.u32(at), s.u64(at), s.string(at));
        }
        for _ in s.strings() {}
        let _ = inventory::smbios::uuid(
            data.get(..16).unwrap_or_default(),
            inventory::smbios::Version { major: 3, minor: 0 },
        );
    }
});
