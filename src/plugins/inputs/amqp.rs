//! AMQPInput (§5.1): consumes a queue of an AMQP broker (RabbitMQ). Unless `read_only`,
//! it first declares the exchange, and (with `bind_queue`, the default) the queue with
//! `queue_durability`, `queue_exclusive`, `queue_auto_delete` and `queue_ttl` (the queue's
//! `x-message-ttl`), binds it to the exchange with `routing_key`, and sets
//! `prefetch_count` (Heka's default 2: raise it for throughput). `queue = ""` lets the
//! broker name the queue.
//!
//! Each AMQP message's body goes through the splitter (NullSplitter by default: one
//! record; use HekaFramingSplitter for what an AMQPOutput sends with its default
//! encoder) and decoder; messages made from text records get Type `amqp`, as Heka's.
//!
//! A message is acknowledged to the broker only once hekad is done with it: the router
//! took it and every output it was routed to delivered it (a disk-buffered output: once
//! it is in its queue file), tracked as a tailed file's lines are (`pipeline/ack.rs`).
//! Whatever is unacknowledged when the connection fails or hekad stops (even by kill -9)
//! is delivered again by the broker, so nothing is lost and a message may come twice.
//! A failed connection is retried with backoff (250 ms doubling to 30 s).

use super::{Decorator, Deliverer, Input, InputContext};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::pipeline::ack::AckTracker;
use crate::plugins::amqp::{self, Broker, Exchange, FIRST_BACKOFF, MAX_BACKOFF};
use crate::plugins::tls::TlsConfig;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, Consumer};
use serde::Deserialize;
use smol::future::{BoxedLocal, FutureExt};
use smol::stream::StreamExt;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(default)]
struct AmqpInputConfig {
    url: String,
    exchange: String,
    exchange_type: String,
    exchange_durability: bool,
    exchange_auto_delete: bool,
    routing_key: String,
    prefetch_count: u16,
    queue: String,
    bind_queue: bool,
    queue_durability: bool,
    queue_exclusive: bool,
    queue_auto_delete: bool,
    /// Milliseconds; -1 is none.
    queue_ttl: i32,
    read_only: bool,
    tls: TlsConfig,
}

impl Default for AmqpInputConfig {
    fn default() -> Self {
        AmqpInputConfig {
            url: String::new(),
            exchange: String::new(),
            exchange_type: String::new(),
            exchange_durability: false,
            exchange_auto_delete: true,
            routing_key: String::new(),
            prefetch_count: 2,
            queue: String::new(),
            bind_queue: true,
            queue_durability: false,
            queue_exclusive: false,
            queue_auto_delete: true,
            queue_ttl: -1,
            read_only: false,
            tls: TlsConfig::default(),
        }
    }
}

/// How often the connection's state is checked while no message comes.
const CONNECTION_CHECK: Duration = Duration::from_secs(1);
/// How long messages already taken are given to be finished when hekad stops.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The AMQPInput plugin.
pub struct AmqpInput {
    broker: Broker,
    exchange: Exchange,
    routing_key: String,
    prefetch_count: u16,
    queue: String,
    bind_queue: bool,
    queue_options: QueueDeclareOptions,
    queue_ttl: Option<i32>,
    read_only: bool,
}

pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
) -> Result<Box<dyn Input>, Vec<ConfigError>> {
    let c: AmqpInputConfig = section::decode(section, common_keys)?;
    let mut errors = SectionErrors::new(section);
    let broker = Broker::new(section, &c.url, &c.tls, &mut errors);
    let exchange = Exchange {
        name: c.exchange,
        kind: c.exchange_type,
        durable: c.exchange_durability,
        auto_delete: c.exchange_auto_delete,
    };
    exchange.check(&mut errors);
    if c.queue_ttl < -1 {
        errors.add(
            "queue_ttl",
            format!(
                "expected milliseconds (0 or more) or -1 for none, got {}",
                c.queue_ttl
            ),
        );
    }
    let Some(broker) = broker else {
        return Err(errors.fail("url", "is not usable"));
    };
    let queue_options = QueueDeclareOptions {
        durable: c.queue_durability,
        exclusive: c.queue_exclusive,
        auto_delete: c.queue_auto_delete,
        ..QueueDeclareOptions::default()
    };
    errors.finish(|| {
        Box::new(AmqpInput {
            broker,
            exchange,
            routing_key: c.routing_key,
            prefetch_count: c.prefetch_count,
            queue: c.queue,
            bind_queue: c.bind_queue,
            queue_options,
            queue_ttl: (c.queue_ttl >= 0).then_some(c.queue_ttl),
            read_only: c.read_only,
        }) as Box<dyn Input>
    })
}

/// A connection consuming the queue.
struct Session {
    connection: Connection,
    channel: Channel,
    consumer: Consumer,
    /// Learns when hekad is done with each delivered message; tags are per channel, so
    /// each session has its own.
    tracker: Arc<AckTracker>,
    /// The highest delivery tag acknowledged.
    acked: u64,
}

/// Why a session ended.
enum Ended {
    Stopping,
    RouterClosed,
    Broken(String),
}

impl Input for AmqpInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let decorator = Decorator {
                r#type: Some("amqp".into()),
                ..Decorator::default()
            };
            let mut deliverer = Deliverer::new(&ctx.shared, None, decorator)?;
            let mut delay = FIRST_BACKOFF;
            let name = &ctx.shared.input_name;
            loop {
                let opened = self.open().or(async {
                    ctx.control.stopped().await;
                    Err(String::new())
                });
                let ended = match opened.await {
                    Ok(mut session) => {
                        log::debug!("Input '{name}': consuming from {}", self.broker.shown);
                        delay = FIRST_BACKOFF;
                        let ended = self.consume(&ctx, &mut deliverer, &mut session).await;
                        if matches!(ended, Ended::Stopping) {
                            self.finish(&mut session).await;
                        }
                        if !matches!(ended, Ended::Broken(_)) {
                            amqp::close(&session.connection).await;
                        }
                        ended
                    }
                    Err(_) if ctx.control.is_stopping() => Ended::Stopping,
                    Err(e) => Ended::Broken(e),
                };
                match ended {
                    Ended::Stopping | Ended::RouterClosed => return Ok(()),
                    Ended::Broken(e) => {
                        log::warn!(
                            "Input '{name}': {e}; reconnecting in {} ms (unacknowledged \
                             messages are delivered again)",
                            delay.as_millis()
                        );
                        let wait = async {
                            smol::Timer::after(delay).await;
                            false
                        };
                        let stopping = async {
                            ctx.control.stopped().await;
                            true
                        };
                        if wait.or(stopping).await {
                            return Ok(());
                        }
                        delay = (delay * 2).min(MAX_BACKOFF);
                    }
                }
            }
        })
    }
}

/// What the consuming loop waits for.
// Lives on the stack for one turn of the loop: boxing the large variant would only add
// an allocation per message.
#[allow(clippy::large_enum_variant)]
enum Event {
    Delivery(Option<lapin::Result<Delivery>>),
    Committed(u64, u64),
    Stopping,
    Lost,
}

impl AmqpInput {
    /// Connects, declares and binds what the config says, and starts consuming.
    async fn open(&self) -> Result<Session, String> {
        let connection = self.broker.connect().await?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| format!("opening a channel on {}: {e}", self.broker.shown))?;
        let mut queue = self.queue.clone();
        if !self.read_only {
            self.exchange.declare(&channel).await?;
            if self.bind_queue {
                let mut arguments = FieldTable::default();
                if let Some(ttl) = self.queue_ttl {
                    arguments.insert("x-message-ttl".into(), AMQPValue::LongInt(ttl));
                }
                let declared = channel
                    .queue_declare(queue.as_str().into(), self.queue_options, arguments)
                    .await
                    .map_err(|e| format!("declaring queue {queue:?}: {e}"))?;
                queue = declared.name().to_string();
                channel
                    .queue_bind(
                        queue.as_str().into(),
                        self.exchange.name.as_str().into(),
                        self.routing_key.as_str().into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await
                    .map_err(|e| {
                        format!("binding queue {queue:?} to {:?}: {e}", self.exchange.name)
                    })?;
            }
            channel
                .basic_qos(self.prefetch_count, BasicQosOptions::default())
                .await
                .map_err(|e| format!("setting prefetch_count: {e}"))?;
        }
        let options = BasicConsumeOptions {
            exclusive: self.queue_options.exclusive,
            ..BasicConsumeOptions::default()
        };
        let consumer = channel
            .basic_consume(
                queue.as_str().into(),
                "".into(),
                options,
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("consuming from queue {queue:?}: {e}"))?;
        let tracker = AckTracker::new(usize::from(self.prefetch_count).max(1));
        Ok(Session {
            connection,
            channel,
            consumer,
            tracker,
            acked: 0,
        })
    }

    /// Delivers messages and acknowledges those hekad is done with, until the
    /// connection fails or hekad stops.
    async fn consume(
        &self,
        ctx: &InputContext,
        deliverer: &mut Deliverer,
        session: &mut Session,
    ) -> Ended {
        deliverer.track(session.tracker.clone(), 0);
        let mut checks = smol::Timer::interval(CONNECTION_CHECK);
        loop {
            let event = {
                let consumer = &mut session.consumer;
                let tracker = &session.tracker;
                let delivery = async { Event::Delivery(consumer.next().await) };
                let committed = async {
                    let ((tag, offset), _) = tracker.next_committed().await;
                    Event::Committed(tag, offset)
                };
                let stopping = async {
                    ctx.control.stopped().await;
                    Event::Stopping
                };
                let connection = &session.connection;
                let checks = &mut checks;
                let lost = async {
                    // A broker that closes the connection (a restart) does not always end
                    // the consumer's stream: the connection's state says it.
                    while connection.status().connected() {
                        checks.next().await;
                    }
                    Event::Lost
                };
                delivery.or(committed).or(stopping).or(lost).await
            };
            match event {
                Event::Delivery(Some(Ok(delivery))) => {
                    let tag = delivery.delivery_tag;
                    deliverer.restart_at(tag, 0);
                    let delivered = match deliverer.push(&delivery.data).await {
                        Ok(()) => deliverer.flush_incomplete().await,
                        Err(closed) => Err(closed),
                    };
                    if delivered.is_err() {
                        return Ended::RouterClosed;
                    }
                    // Done once every record before this mark is: the whole message.
                    session.tracker.consumed((tag, u64::MAX));
                }
                Event::Delivery(Some(Err(e))) => return Ended::Broken(e.to_string()),
                Event::Delivery(None) => {
                    return Ended::Broken("the broker cancelled the consumer".into())
                }
                Event::Committed(tag, offset) => {
                    if let Err(e) = acknowledge(session, tag, offset).await {
                        return Ended::Broken(e);
                    }
                }
                Event::Stopping => return Ended::Stopping,
                Event::Lost => return Ended::Broken("the connection was closed".into()),
            }
        }
    }

    /// Stops consuming and acknowledges what hekad finishes, all within the grace period
    /// (an unresponsive broker cannot hold the stop up); the broker delivers the rest
    /// again.
    async fn finish(&self, session: &mut Session) {
        let settle = async {
            let cancel = BasicCancelOptions::default();
            let tag = session.consumer.tag();
            let _ = session.channel.basic_cancel(tag, cancel).await;
            while session.tracker.in_flight() > 0 {
                let ((tag, offset), _) = session.tracker.next_committed().await;
                if acknowledge(session, tag, offset).await.is_err() {
                    return;
                }
            }
            if let Some(((tag, offset), _)) = session.tracker.committed() {
                let _ = acknowledge(session, tag, offset).await;
            }
        };
        settle
            .or(async {
                smol::Timer::after(STOP_GRACE).await;
            })
            .await;
    }
}

/// Acknowledges every message up to the committed position `(tag, offset)`: through
/// `tag` when its end mark was reached, else through the message before it. The ack is
/// handed to the connection without waiting for it to be written (that would cost a
/// round trip to the connection's thread per message); a failure to write it fails the
/// connection, and the broker then delivers those messages again.
async fn acknowledge(session: &mut Session, tag: u64, offset: u64) -> Result<(), String> {
    let through = if offset == u64::MAX {
        tag
    } else {
        tag.saturating_sub(1)
    };
    if through <= session.acked {
        return Ok(());
    }
    let ack = session
        .channel
        .basic_ack(through, BasicAckOptions { multiple: true });
    if let Some(Err(e)) = smol::future::poll_once(ack).await {
        return Err(format!("acknowledging: {e}"));
    }
    session.acked = through;
    Ok(())
}
