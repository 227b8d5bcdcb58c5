//! AMQPOutput (§5.6): publishes each message's encoding (ProtobufEncoder in Heka's stream
//! framing by default) to `exchange` with `routing_key`, declaring the exchange first with
//! Heka's keys. `persistent = true` marks messages for the broker's disk; `content_type`
//! (default `application/hekad`) and the time of publishing go in the AMQP properties.
//!
//! Delivery is at-least-once, which Heka's AMQPOutput was not: the channel is in confirm
//! mode and a message's acknowledgement is held until the broker confirmed it (for a
//! persistent message routed to a durable queue: once it is on the broker's disk), so a
//! tailed file does not checkpoint past it and, with `use_buffering = true`, the disk queue
//! keeps it across restarts. Up to [`WINDOW`] messages await confirmation at once. When
//! the connection fails (the broker restarts) or the broker refuses a message (nack),
//! every unconfirmed message is published again, in order, once a connection is back
//! (reconnecting with backoff, 250 ms doubling to 30 s): a broker restart can deliver a
//! message twice, never lose one. A message the exchange routes to no queue is dropped by
//! the broker (published without `mandatory`, as Heka did): declare and bind the queue
//! first (an AMQPInput does).

use super::{Output, OutputContext};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::pipeline::ack::AckToken;
use crate::pipeline::pool::SharedPack;
use crate::pipeline::stats::PluginStats;
use crate::plugins::amqp::{self, Broker, Exchange, FIRST_BACKOFF, MAX_BACKOFF};
use crate::plugins::tls::TlsConfig;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Confirmation, Connection};
use serde::Deserialize;
use smol::future::{BoxedLocal, FutureExt};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Deserialize)]
#[serde(default)]
struct AmqpOutputConfig {
    url: String,
    exchange: String,
    exchange_type: String,
    exchange_durability: bool,
    exchange_auto_delete: bool,
    routing_key: String,
    persistent: bool,
    /// In Heka's config struct, never read there either: the encoder decides.
    serialize: bool,
    content_type: String,
    tls: TlsConfig,
}

impl Default for AmqpOutputConfig {
    fn default() -> Self {
        AmqpOutputConfig {
            url: String::new(),
            exchange: String::new(),
            exchange_type: String::new(),
            exchange_durability: false,
            exchange_auto_delete: true,
            routing_key: String::new(),
            persistent: false,
            serialize: true,
            content_type: "application/hekad".into(),
            tls: TlsConfig::default(),
        }
    }
}

/// Messages published and not yet confirmed, at most.
pub const WINDOW: usize = 512;
/// How long unconfirmed messages are still retried once shutdown began.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The AMQPOutput plugin.
pub struct AmqpOutput {
    broker: Broker,
    exchange: Exchange,
    routing_key: String,
    persistent: bool,
    content_type: String,
}

pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
) -> Result<Box<dyn Output>, Vec<ConfigError>> {
    let c: AmqpOutputConfig = section::decode(section, common_keys)?;
    let mut errors = SectionErrors::new(section);
    let broker = Broker::new(section, &c.url, &c.tls, &mut errors);
    let exchange = Exchange {
        name: c.exchange,
        kind: c.exchange_type,
        durable: c.exchange_durability,
        auto_delete: c.exchange_auto_delete,
    };
    exchange.check(&mut errors);
    let Some(broker) = broker else {
        return Err(errors.fail("url", "is not usable"));
    };
    errors.finish(|| {
        Box::new(AmqpOutput {
            broker,
            exchange,
            routing_key: c.routing_key,
            persistent: c.persistent,
            content_type: c.content_type,
        }) as Box<dyn Output>
    })
}

type Confirming = Pin<Box<dyn Future<Output = lapin::Result<Confirmation>> + Send>>;

/// One message published (or to be published again) and not yet confirmed.
struct Unconfirmed {
    body: Arc<[u8]>,
    token: Option<AckToken>,
    confirming: Confirming,
}

impl Unconfirmed {
    /// `pack` encoded (with `scratch` as the encoder's buffer), holding its
    /// acknowledgement, not published yet; `None` if the encoder refused it (counted).
    fn encoded(
        ctx: &mut OutputContext,
        pack: SharedPack,
        scratch: &mut Vec<u8>,
    ) -> Option<Unconfirmed> {
        scratch.clear();
        if !ctx.encode_into(&pack, scratch) {
            return None;
        }
        Some(Unconfirmed {
            body: Arc::from(scratch.as_slice()),
            token: pack.hold_ack(),
            confirming: Box::pin(std::future::pending()),
        })
    }
}

/// A connection with its channel in confirm mode.
struct Session {
    connection: Connection,
    channel: Channel,
}

/// Why the publishing loop ended.
enum Ended {
    /// The queue closed and every message was confirmed.
    Done,
    /// The connection failed; unconfirmed messages wait in the window.
    Broken(String),
    /// hekad is stopping and the broker did not confirm within the grace period.
    GaveUp,
}

impl Output for AmqpOutput {
    fn run(self: Box<Self>, mut ctx: OutputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let mut window: VecDeque<Unconfirmed> = VecDeque::with_capacity(WINDOW);
            let mut delay = FIRST_BACKOFF;
            let control = ctx.control.clone();
            loop {
                let give_up = async {
                    control.stopped().await;
                    smol::Timer::after(STOP_GRACE).await;
                    Ended::GaveUp
                };
                let attempt = async {
                    let session = match self.open().await {
                        Ok(session) => session,
                        Err(e) => return Ended::Broken(e),
                    };
                    log::debug!("Plugin '{}': connected to {}", ctx.name, self.broker.shown);
                    delay = FIRST_BACKOFF;
                    for message in window.iter_mut() {
                        message.confirming = self.publish(&session.channel, &message.body).await;
                    }
                    let ended = self.pump(&session.channel, &mut ctx, &mut window).await;
                    if matches!(ended, Ended::Done) {
                        amqp::close(&session.connection).await;
                    }
                    ended
                };
                let ended = attempt.or(give_up).await;
                match ended {
                    Ended::Done => return Ok(()),
                    Ended::Broken(e) => {
                        log::warn!(
                            "Plugin '{}': {e}; {} messages unconfirmed, publishing them again \
                             after reconnecting in {} ms",
                            ctx.name,
                            window.len(),
                            delay.as_millis()
                        );
                        match self.wait_to_reconnect(&mut ctx, &mut window, delay).await {
                            Waited::Reconnect => {}
                            Waited::Done => return Ok(()),
                            Waited::GaveUp => {
                                self.give_up(&ctx, window);
                                return Ok(());
                            }
                        }
                        delay = (delay * 2).min(MAX_BACKOFF);
                    }
                    Ended::GaveUp => {
                        self.give_up(&ctx, window);
                        return Ok(());
                    }
                }
            }
        })
    }
}

impl AmqpOutput {
    /// Connects, opens a channel in confirm mode and declares the exchange.
    async fn open(&self) -> Result<Session, String> {
        let connection = self.broker.connect().await?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| format!("opening a channel on {}: {e}", self.broker.shown))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| format!("turning on publisher confirms: {e}"))?;
        self.exchange.declare(&channel).await?;
        Ok(Session {
            connection,
            channel,
        })
    }

    /// Publishes `body`; the future returned resolves to the broker's confirmation. The
    /// frames are handed to the connection before this returns, so messages go out in
    /// the order they were published.
    async fn publish(&self, channel: &Channel, body: &Arc<[u8]>) -> Confirming {
        let channel = channel.clone();
        let body = body.clone();
        let exchange = self.exchange.name.as_str().into();
        let routing_key = self.routing_key.as_str().into();
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let properties = BasicProperties::default()
            .with_content_type(self.content_type.as_str().into())
            .with_delivery_mode(if self.persistent { 2 } else { 1 })
            .with_timestamp(seconds);
        let mut confirming: Confirming = Box::pin(async move {
            let options = BasicPublishOptions::default();
            channel
                .basic_publish(exchange, routing_key, options, &body, properties)
                .await?
                .await
        });
        match smol::future::poll_once(&mut confirming).await {
            Some(settled) => Box::pin(std::future::ready(settled)),
            None => confirming,
        }
    }

    /// Publishes what the queue brings and settles confirmations, until the queue is
    /// closed and drained and everything is confirmed, or the connection fails.
    async fn pump(
        &self,
        channel: &Channel,
        ctx: &mut OutputContext,
        window: &mut VecDeque<Unconfirmed>,
    ) -> Ended {
        let mut closed = false;
        let mut body = Vec::new();
        loop {
            let full = closed || window.len() >= WINDOW;
            let event = match window.front_mut() {
                None if closed => return Ended::Done,
                None => Event::Pack(ctx.queue.recv().await.ok()),
                Some(front) if full => Event::Settled(front.confirming.as_mut().await),
                Some(front) => {
                    let next = async { Event::Pack(ctx.queue.recv().await.ok()) };
                    let settled = async { Event::Settled(front.confirming.as_mut().await) };
                    next.or(settled).await
                }
            };
            match event {
                Event::Pack(None) => closed = true,
                Event::Pack(Some(pack)) => {
                    let Some(mut message) = Unconfirmed::encoded(ctx, pack, &mut body) else {
                        continue;
                    };
                    message.confirming = self.publish(channel, &message.body).await;
                    window.push_back(message);
                }
                Event::Settled(Ok(Confirmation::Nack(_))) => {
                    let Some(mut message) = window.pop_front() else {
                        continue;
                    };
                    PluginStats::add(&ctx.stats.process_failures, 1);
                    log::warn!(
                        "Plugin '{}': the broker refused a message (nack); publishing it again",
                        ctx.name
                    );
                    message.confirming = self.publish(channel, &message.body).await;
                    window.push_back(message);
                }
                Event::Settled(Ok(_)) => {
                    window.pop_front();
                    PluginStats::add(&ctx.stats.process_count, 1);
                }
                Event::Settled(Err(e)) => return Ended::Broken(format!("publishing: {e}")),
            }
        }
    }

    /// Waits `delay` before reconnecting, meanwhile taking what the queue brings into the
    /// window (it is published once connected): the router must never find this output
    /// gone while it still has messages for it. Done when the queue closed with nothing
    /// to deliver; gives up when hekad is stopping and the grace period is over.
    async fn wait_to_reconnect(
        &self,
        ctx: &mut OutputContext,
        window: &mut VecDeque<Unconfirmed>,
        delay: Duration,
    ) -> Waited {
        let mut retry = smol::Timer::after(delay);
        let control = ctx.control.clone();
        let mut closed = false;
        let mut body = Vec::new();
        loop {
            let room = !closed && window.len() < WINDOW;
            let woke = {
                let retry = async {
                    (&mut retry).await;
                    Wake::Retry
                };
                let next = async {
                    match room {
                        true => Wake::Pack(ctx.queue.recv().await.ok()),
                        false => std::future::pending().await,
                    }
                };
                let stopping = async {
                    control.stopped().await;
                    smol::Timer::after(STOP_GRACE).await;
                    Wake::GiveUp
                };
                retry.or(next).or(stopping).await
            };
            match woke {
                Wake::Retry => return Waited::Reconnect,
                Wake::GiveUp => return Waited::GaveUp,
                Wake::Pack(None) if window.is_empty() => return Waited::Done,
                Wake::Pack(None) => closed = true,
                Wake::Pack(Some(pack)) => {
                    // Published once connected.
                    window.extend(Unconfirmed::encoded(ctx, pack, &mut body));
                }
            }
        }
    }

    /// Stops with messages unconfirmed: their acknowledgements are abandoned, so a tailed
    /// file or the disk queue sends them again at the next start; only messages from
    /// neither are lost (counted as dropped).
    fn give_up(&self, ctx: &OutputContext, window: VecDeque<Unconfirmed>) {
        let durable = ctx.queue.is_durable();
        let unconfirmed = window.len();
        let mut lost = ctx.queue.give_up_waiting();
        for message in window {
            match message.token {
                Some(token) => token.abandon(),
                None if !durable => lost += 1,
                None => {}
            }
        }
        PluginStats::add(&ctx.stats.drop_count, lost as u64);
        let name = &ctx.name;
        let broker = &self.broker.shown;
        if lost > 0 {
            log::error!(
                "Plugin '{name}': stopping with {broker} not confirming; {lost} messages lost \
                 (from sources that cannot send them again; use_buffering keeps them)"
            );
        } else {
            log::warn!(
                "Plugin '{name}': stopping with {broker} not confirming; {unconfirmed} \
                 messages not delivered, sent again at the next start (from the disk queue \
                 or the tailed file)"
            );
        }
    }
}

/// What waiting to reconnect ended with.
enum Waited {
    Reconnect,
    /// The queue closed and nothing is left to deliver.
    Done,
    GaveUp,
}

/// What wakes the wait to reconnect.
enum Wake {
    Retry,
    Pack(Option<crate::pipeline::pool::SharedPack>),
    GiveUp,
}

/// What the publishing loop waits for.
// Lives on the stack for one turn of the loop: boxing the large variant would only add
// an allocation per message.
#[allow(clippy::large_enum_variant)]
enum Event {
    /// The next message, `None` once the queue is closed and drained.
    Pack(Option<crate::pipeline::pool::SharedPack>),
    /// The oldest unconfirmed message's confirmation.
    Settled(lapin::Result<Confirmation>),
}
