//! Allocation count and speed of the zero-copy path: framed messages split from a stream,
//! validated (ProtobufDecoder), matched by the router and written framed by an output
//! (ProtobufEncoder) — the aggregator's pass-through. A counting global allocator reports
//! heap allocations per message once the pools and buffers are warm.
//!
//!     cargo bench --bench zero_copy -- --messages 1000000

use hekad::config::common::CommonInput;
use hekad::config::{Category, PluginSection};
use hekad::framing::{write_frame, DEFAULT_MAX_MESSAGE_SIZE};
use hekad::matcher::Matcher;
use hekad::message::writer::Values;
use hekad::message::{uuid, MessageWriter};
use hekad::pipeline::pool::PackPool;
use hekad::pipeline::ring as channel;
use hekad::pipeline::router::{Route, Router, RouterSettings};
use hekad::pipeline::shutdown::Control;
use hekad::pipeline::stats::StatsRegistry;
use hekad::plugins::decoders::Decoder;
use hekad::plugins::encoders::Encoder;
use hekad::plugins::inputs::deliver::{Decorator, Deliverer, InputShared};
use hekad::plugins::outputs::OutputContext;
use hekad::splitters::Splitter;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: hekad::alloc_count::Counting = hekad::alloc_count::Counting;

fn section(type_name: &str) -> PluginSection {
    PluginSection {
        name: type_name.into(),
        type_name: type_name.into(),
        category: Category::of_type(type_name).unwrap_or(Category::Decoder),
        file: "bench".into(),
        table: toml::Table::new(),
    }
}

/// `count` framed messages of about 200 bytes.
fn stream(count: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut msg = Vec::new();
    for i in 0..count {
        msg.clear();
        MessageWriter::new(&mut msg)
            .uuid(&uuid::new_v4())
            .timestamp(1_700_000_000_000_000_000 + i as i64)
            .r#type(if i % 10 == 0 { b"other" } else { b"bench" })
            .logger(b"bench-logger")
            .severity(6)
            .payload(b"GET /index.html HTTP/1.1 200 1234 \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\" 0.004 upstream")
            .hostname(b"bench-host.example.com")
            .field(b"status", b"", Values::Integer(&[200]))
            .field(b"path", b"uri", Values::String(&[b"/index.html"]));
        write_frame(&msg, None, DEFAULT_MAX_MESSAGE_SIZE, &mut out).expect("frame");
    }
    out
}

fn main() {
    // `cargo test --all-targets` runs this unoptimised without `--bench`: keep that short.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let mut messages = if benchmarking { 200_000usize } else { 20_000 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--messages" {
            messages = args.next().and_then(|n| n.parse().ok()).unwrap_or(messages);
        }
    }
    let warmup = messages / 10;
    let data = stream(messages);
    let bytes_per_message = data.len() / messages;
    let stats = StatsRegistry::default();
    let pool = PackPool::new(100, 0);
    let (to_router, from_inputs) = channel::bounded(30);
    let (inject_tx, from_filters) = channel::bounded(30);
    drop(inject_tx); // no filters: the router sees the inject channel closed
    let (to_output, output_queue) = channel::bounded(30);
    let control = Control::new();
    let output_stats = stats.register("Out", Category::Output);
    let route = Route::new(
        "Out".into(),
        Matcher::compile("Type == 'bench' && Severity < 7").expect("matcher"),
        None,
        to_output,
        output_stats.clone(),
        false,
    );
    let router = Router::new(
        vec![route],
        from_inputs,
        from_filters,
        RouterSettings {
            max_pack_idle: Duration::from_secs(120),
            sample_denominator: 1000,
        },
        stats.register_global("Router"),
    );
    let shared = InputShared {
        input_name: "In".into(),
        pool,
        router: to_router,
        stats: stats.register("In", Category::Input),
        common: CommonInput::default(),
        splitter_name: "HekaFramingSplitter".into(),
        splitter: Arc::new(|| {
            hekad::splitters::heka_framing::from_section(
                &section("HekaFramingSplitter"),
                DEFAULT_MAX_MESSAGE_SIZE,
            )
            .map_err(|_| "splitter".to_owned())
            .map(|s| s as Box<dyn Splitter>)
        }),
        splitter_stats: stats.register("In-HekaFramingSplitter", Category::Splitter),
        min_buffer_size: 8192,
        max_record_size: hekad::framing::max_record_size(DEFAULT_MAX_MESSAGE_SIZE),
        deliver_incomplete_final: false,
        keep_truncated: false,
        decoder_name: Some("ProtobufDecoder".into()),
        decoder_stats: None,
        control: control.clone(),
        decoder: Some(Arc::new(|| {
            hekad::plugins::decoders::protobuf::from_section(&section("ProtobufDecoder"))
                .map_err(|_| "decoder".to_owned())
                .map(|d| d as Box<dyn Decoder>)
        })),
    };
    let encoder: Box<dyn Encoder> =
        hekad::plugins::encoders::protobuf::from_section(&section("ProtobufEncoder"))
            .expect("encoder");
    let mut ctx = OutputContext::new(
        "Out".into(),
        hekad::pipeline::inbox::Inbox::Memory(output_queue),
        Some(encoder),
        true,
        DEFAULT_MAX_MESSAGE_SIZE,
        control,
        output_stats,
    );
    let expected = (0..messages).filter(|i| i % 10 != 0).count() as u64;
    let warm_output = (0..warmup).filter(|i| i % 10 != 0).count() as u64;
    let started = std::rc::Rc::new(std::cell::Cell::new(None::<(Instant, u64)>));
    // hekad's own executor, as in the daemon (its run queue is part of what is counted).
    let ex = hekad::pipeline::local_executor::LocalExecutor::new();
    let output_started = started.clone();
    let result = ex.block_on(async {
        let router_task = ex.spawn(router.run());
        let output_task = ex.spawn(async move {
            let mut sink = Vec::with_capacity(1 << 20);
            let mut written = 0u64;
            while let Ok(pack) = ctx.queue.recv().await {
                if sink.len() > (1 << 20) - 70_000 {
                    sink.clear();
                }
                ctx.encode_into(&pack, &mut sink);
                drop(pack);
                written += 1;
                if written == warm_output {
                    output_started.set(Some((Instant::now(), hekad::alloc_count::allocations())));
                }
            }
            written
        });
        let mut deliverer = Deliverer::new(&shared, None, Decorator::default()).expect("deliverer");
        drop(shared);
        for chunk in data.chunks(64 * 1024) {
            deliverer.push(chunk).await.expect("router open");
        }
        drop(deliverer);
        router_task.await;
        output_task.await
    });
    let end_allocs = hekad::alloc_count::allocations();
    let Some((t0, a0)) = started.get() else {
        eprintln!("warm-up never finished");
        std::process::exit(1);
    };
    let elapsed = t0.elapsed().as_secs_f64();
    let measured = result - warm_output;
    assert_eq!(
        result, expected,
        "every matching message reached the output"
    );
    println!("zero-copy pass-through (split, validate, match, frame) on one thread");
    println!("  messages: {messages} ({bytes_per_message} B framed each), measured after {warmup} warm-up");
    println!(
        "  throughput: {:.0} messages/s, {:.1} MB/s",
        measured as f64 / elapsed,
        (measured as f64 * bytes_per_message as f64) / elapsed / 1e6
    );
    println!(
        "  heap allocations: {} for {measured} messages = {:.4} per message",
        end_allocs - a0,
        (end_allocs - a0) as f64 / measured as f64
    );
}
