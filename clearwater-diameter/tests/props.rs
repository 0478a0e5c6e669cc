//! Property tests: generated messages round-trip through the wire; arbitrary
//! and mutated bytes never panic the decoder, the validator or the framer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use clearwater_diameter::avp::code;
use clearwater_diameter::{
    ApplicationId, Avp, AvpCode, AvpFlags, AvpType, CommandCode, CommandFlags, Message, frame,
};
use proptest::prelude::*;

fn leaf() -> impl Strategy<Value = Avp> {
    let known: Vec<AvpCode> = clearwater_diameter::avp::dictionary()
        .filter(|d| d.kind != AvpType::Grouped)
        .map(|d| d.code)
        .collect();
    let code = prop_oneof![
        proptest::sample::select(known),
        // Unknown AVPs, IETF or vendor.
        (
            1000u32..100_000,
            prop_oneof![Just(0u32), Just(10415u32), any::<u32>()]
        )
            .prop_map(|(c, v)| AvpCode { code: c, vendor: v }),
    ];
    (
        code,
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(code, m, data)| Avp {
            code,
            flags: AvpFlags(
                if code.vendor != 0 {
                    AvpFlags::VENDOR
                } else {
                    0
                } | if m { AvpFlags::MANDATORY } else { 0 },
            ),
            data: Bytes::from(data),
        })
}

fn avp() -> impl Strategy<Value = Avp> {
    let grouped = [
        code::SIP_AUTH_DATA_ITEM,
        code::VENDOR_SPECIFIC_APPLICATION_ID,
        code::EXPERIMENTAL_RESULT,
        code::PROXY_INFO,
        code::SERVICE_INFORMATION,
    ];
    leaf().prop_recursive(3, 24, 6, move |inner| {
        (
            proptest::sample::select(grouped.to_vec()),
            proptest::collection::vec(inner, 0..6),
        )
            .prop_map(|(c, kids)| Avp::grouped(c, kids))
    })
}

fn message() -> impl Strategy<Value = Message> {
    (
        prop_oneof![
            Just(0x80u8),
            Just(0xc0),
            Just(0x40),
            Just(0x60),
            Just(0x00),
            Just(0x90)
        ],
        0u32..0x0100_0000,
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        proptest::collection::vec(avp(), 0..12),
    )
        .prop_map(|(flags, code, app, h, e, avps)| Message {
            flags: CommandFlags(flags),
            code: CommandCode(code),
            application: ApplicationId(app),
            hop_by_hop: h,
            end_to_end: e,
            avps,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn messages_round_trip(m in message()) {
        let wire = m.encode();
        prop_assert_eq!(frame(&wire, 1 << 24), clearwater_diameter::Framing::Complete(wire.len()));
        let back = Message::decode(wire.clone()).unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(back.encode(), wire);
        // Validation may refuse random content, but never panics.
        let _ = back.validate();
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = frame(&bytes, 1 << 20);
        if let Ok(m) = Message::decode(Bytes::from(bytes)) {
            let _ = m.validate();
            let _ = m.encode();
            for a in &m.avps {
                let _ = a.children();
            }
        }
    }

    #[test]
    fn mutated_messages_never_panic(m in message(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut wire = m.encode().to_vec();
        for (i, x) in flips {
            let n = wire.len();
            wire[i % n] ^= x;
        }
        let _ = frame(&wire, 1 << 20);
        if let Ok(m) = Message::decode(Bytes::from(wire))
            && let Err(e) = m.validate()
        {
            // Every refusal carries a code an answer can use.
            let a = m.error_answer(&e, "h.example", "example");
            prop_assert!(Message::decode(a.encode()).is_ok());
        }
    }
}
