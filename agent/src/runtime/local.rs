//! A reactor owned by one thread: its own epoll instance, edge-triggered sockets, timers, and a
//! `block_on` that sleeps in that epoll. The HTTP workers run on it.
//!
//! Why not smol's: async-io keeps one reactor per process. With several threads running
//! executors, one sleeps in epoll_wait and the others park on a futex, so a socket event for a
//! parked thread's task goes kernel -> the thread holding the reactor -> futex -> the task's
//! thread: two wake-ups where one would do, and the socket is re-armed with an epoll_ctl before
//! every wait (EPOLLONESHOT). An HTTP worker sending a file waits for socket space hundreds of
//! times per download, and with this reactor a single download ran faster than on smol's
//! (bench/README.md, "http.sh"). Here each worker owns an epoll, as nginx's workers do: the
//! kernel wakes the thread whose socket has room, directly.
//!
//! Sockets are registered once, edge-triggered for reading and writing (epoll(7), "Level-triggered
//! and edge-triggered"): an operation that fails with EAGAIN clears the direction's readiness,
//! and the next edge, reported at the next epoll_wait, sets it and wakes the waiting task. Events
//! are only taken in `block_on` between polls of its future, on this thread, so no edge can be
//! lost between an EAGAIN and the wait that follows it. Wakers from other threads (the store's
//! writer finishing an upload's write) write an eventfd, and only while the thread sleeps.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::{Future, poll_fn};
use std::io;
use std::os::fd::AsFd;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};

const READ: usize = 0;
const WRITE: usize = 1;
/// The epoll key of the eventfd; sources' keys are slab indices.
const NOTIFY_KEY: u64 = u64::MAX;

thread_local! {
    static CURRENT: RefCell<Option<Rc<Reactor>>> = const { RefCell::new(None) };
}

/// One registered descriptor's readiness and the tasks waiting for it.
#[derive(Default)]
struct Source {
    ready: [bool; 2],
    wakers: [Option<Waker>; 2],
}

struct Reactor {
    epoll: Epoll,
    sources: RefCell<Slab>,
    timers: RefCell<BTreeMap<(Instant, u64), Waker>>,
    timer_ids: Cell<u64>,
}

#[derive(Default)]
struct Slab {
    slots: Vec<Option<Source>>,
    free: Vec<usize>,
}

impl Reactor {
    fn current() -> io::Result<Rc<Reactor>> {
        CURRENT
            .with(|c| c.borrow().clone())
            .ok_or_else(|| io::Error::other("local reactor: used outside local::block_on"))
    }

    /// Sets readiness from one epoll_wait's events and returns the wakers to wake.
    fn dispatch(&self, events: &[EpollEvent], notify: &Notify, wake: &mut Vec<Waker>) {
        let mut slab = self.sources.borrow_mut();
        for ev in events {
            if ev.data() == NOTIFY_KEY {
                // Empties the counter; a write after this is a new edge.
                let _ = notify.efd.read();
                continue;
            }
            let flags = ev.events();
            let Some(Some(src)) = usize::try_from(ev.data()).ok().and_then(|k| slab.slots.get_mut(k)) else {
                continue;
            };
            // An error or hang-up makes both directions "ready": the operation then reports it.
            let broken = flags.intersects(EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP);
            for (dir, flag) in [(READ, EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP), (WRITE, EpollFlags::EPOLLOUT)] {
                if broken || flags.intersects(flag) {
                    src.ready[dir] = true;
                    wake.extend(src.wakers[dir].take());
                }
            }
        }
    }

    fn release(&self, key: usize) {
        let mut slab = self.sources.borrow_mut();
        if let Some(slot) = slab.slots.get_mut(key) {
            *slot = None;
            slab.free.push(key);
        }
    }

    /// Wakes the timers that are due; returns how long until the next one.
    fn fire_timers(&self, wake: &mut Vec<Waker>) -> EpollTimeout {
        let now = Instant::now();
        let mut timers = self.timers.borrow_mut();
        while let Some(entry) = timers.first_entry() {
            let (at, _) = *entry.key();
            if at > now {
                // Rounded up to a whole millisecond, so the wait does not end just before it.
                let ms = (at - now).as_micros().div_ceil(1000);
                return EpollTimeout::try_from(ms).unwrap_or(EpollTimeout::MAX);
            }
            wake.push(entry.remove());
        }
        EpollTimeout::NONE
    }
}

/// The waker of `block_on`'s future: sets `woken`, and writes the eventfd only if the thread is
/// asleep in epoll_wait (a wake from the thread itself, the common case, costs no system call).
struct Notify {
    woken: AtomicBool,
    sleeping: AtomicBool,
    efd: EventFd,
}

impl Wake for Notify {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // SeqCst pairs with block_on's store of `sleeping` then load of `woken`: one of the two
        // threads sees the other's store, so a wake is never missed while the thread goes to sleep.
        self.woken.store(true, Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) {
            let _ = self.efd.write(1);
        }
    }
}

/// Clears the thread's reactor when `block_on` returns or unwinds.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        CURRENT.with(|c| c.borrow_mut().take());
    }
}

/// Runs `fut` to completion on this thread with a reactor of its own; `Io` and `sleep_until`
/// work inside it. Fails only if the epoll or eventfd cannot be made.
pub(crate) fn block_on<T>(fut: impl Future<Output = T>) -> io::Result<T> {
    let reactor = Rc::new(Reactor {
        epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?,
        sources: RefCell::default(),
        timers: RefCell::default(),
        timer_ids: Cell::new(0),
    });
    let notify = Arc::new(Notify {
        woken: AtomicBool::new(true),
        sleeping: AtomicBool::new(false),
        efd: EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?,
    });
    reactor.epoll.add(&notify.efd, EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLET, NOTIFY_KEY))?;
    CURRENT.with(|c| *c.borrow_mut() = Some(reactor.clone()));
    let _installed = Installed;
    let waker = Waker::from(notify.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    let mut events = vec![EpollEvent::empty(); 256];
    let mut wake = Vec::new();
    loop {
        if notify.woken.swap(false, Ordering::SeqCst)
            && let Poll::Ready(t) = fut.as_mut().poll(&mut cx)
        {
            return Ok(t);
        }
        let mut timeout = reactor.fire_timers(&mut wake);
        if !wake.is_empty() {
            wake.drain(..).for_each(Waker::wake);
            continue;
        }
        notify.sleeping.store(true, Ordering::SeqCst);
        if notify.woken.load(Ordering::SeqCst) {
            // Woken already (a task yielded, or another thread): only collect what is ready.
            timeout = EpollTimeout::ZERO;
        }
        let n = match reactor.epoll.wait(&mut events, timeout) {
            Ok(n) => n,
            Err(Errno::EINTR) => 0,
            Err(e) => {
                notify.sleeping.store(false, Ordering::SeqCst);
                return Err(e.into());
            }
        };
        notify.sleeping.store(false, Ordering::SeqCst);
        reactor.dispatch(events.get(..n).unwrap_or_default(), &notify, &mut wake);
        wake.drain(..).for_each(Waker::wake);
    }
}

/// A non-blocking descriptor registered with the thread's reactor.
pub(crate) struct Io<T: AsFd> {
    inner: T,
    key: usize,
    reactor: Rc<Reactor>,
}

impl<T: AsFd> Io<T> {
    /// Registers `inner`, which must already be non-blocking, for reading and writing.
    pub(crate) fn new(inner: T) -> io::Result<Io<T>> {
        Io::register(inner, EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT | EpollFlags::EPOLLRDHUP)
    }

    /// Registers a listening socket that several threads' reactors share: EPOLLEXCLUSIVE wakes
    /// one sleeping thread per connection rather than all of them (epoll_ctl(2)).
    pub(crate) fn listener(inner: T) -> io::Result<Io<T>> {
        Io::register(inner, EpollFlags::EPOLLIN | EpollFlags::EPOLLEXCLUSIVE)
    }

    fn register(inner: T, flags: EpollFlags) -> io::Result<Io<T>> {
        let reactor = Reactor::current()?;
        let key = {
            let mut slab = reactor.sources.borrow_mut();
            let key = slab.free.pop().unwrap_or(slab.slots.len());
            if key == slab.slots.len() {
                slab.slots.push(None);
            }
            // Ready until an operation says otherwise: the first attempt is made at once.
            if let Some(slot) = slab.slots.get_mut(key) {
                *slot = Some(Source { ready: [true; 2], wakers: [None, None] });
            }
            key
        };
        let ev = EpollEvent::new(flags | EpollFlags::EPOLLET, key as u64);
        if let Err(e) = reactor.epoll.add(inner.as_fd(), ev) {
            reactor.release(key);
            return Err(e.into());
        }
        Ok(Io { inner, key, reactor })
    }

    pub(crate) fn get_ref(&self) -> &T {
        &self.inner
    }

    /// Runs `op` until it does not fail with EAGAIN, waiting for readability in between.
    pub(crate) async fn read_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.io(READ, op).await
    }

    /// Runs `op` until it does not fail with EAGAIN, waiting for writability in between.
    pub(crate) async fn write_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.io(WRITE, op).await
    }

    async fn io<R>(&self, dir: usize, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        loop {
            match op(&self.inner) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.not_ready(dir);
                    self.ready(dir).await;
                }
                r => return r,
            }
        }
    }

    /// After a write came back short or failed with EAGAIN (the socket buffer is full): waits
    /// for the edge that comes when it drains. A short write sets SOCK_NOSPACE as EAGAIN does,
    /// so the kernel reports that edge (tcp(7) sockets; not for a write cut short otherwise).
    pub(crate) async fn drained(&self) -> io::Result<()> {
        self.not_ready(WRITE);
        self.ready(WRITE).await;
        Ok(())
    }

    fn not_ready(&self, dir: usize) {
        if let Some(Some(src)) = self.reactor.sources.borrow_mut().slots.get_mut(self.key)
            && let Some(r) = src.ready.get_mut(dir)
        {
            *r = false;
        }
    }

    fn ready(&self, dir: usize) -> impl Future<Output = ()> + '_ {
        poll_fn(move |cx| {
            let mut slab = self.reactor.sources.borrow_mut();
            let Some(Some(src)) = slab.slots.get_mut(self.key) else { return Poll::Ready(()) };
            if src.ready[dir] {
                return Poll::Ready(());
            }
            match &mut src.wakers[dir] {
                Some(w) if w.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
    }
}

impl<T: AsFd> Drop for Io<T> {
    fn drop(&mut self) {
        // Before `inner` closes: a dup of the descriptor elsewhere would keep it registered.
        let _ = self.reactor.epoll.delete(self.inner.as_fd());
        self.reactor.release(self.key);
    }
}

/// Waits until `deadline` (with the reactor's millisecond resolution).
pub(crate) fn sleep_until(deadline: Instant) -> Sleep {
    Sleep { deadline, id: None }
}

pub(crate) struct Sleep {
    deadline: Instant,
    /// The timer's entry while one is registered, and the reactor it is in.
    id: Option<(u64, Rc<Reactor>)>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            self.unregister();
            return Poll::Ready(());
        }
        let deadline = self.deadline;
        match &self.id {
            Some((id, r)) => {
                if let Some(w) = r.timers.borrow_mut().get_mut(&(deadline, *id))
                    && !w.will_wake(cx.waker())
                {
                    *w = cx.waker().clone();
                }
            }
            None => {
                // Outside block_on there is no one to wake it: it then never fires, like a
                // future polled by no one.
                let Ok(r) = Reactor::current() else { return Poll::Pending };
                let id = r.timer_ids.get();
                r.timer_ids.set(id.wrapping_add(1));
                r.timers.borrow_mut().insert((deadline, id), cx.waker().clone());
                self.id = Some((id, r));
            }
        }
        Poll::Pending
    }
}

impl Sleep {
    fn unregister(&mut self) {
        if let Some((id, r)) = self.id.take() {
            r.timers.borrow_mut().remove(&(self.deadline, id));
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.unregister();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        (a, b)
    }

    #[test]
    fn a_reader_wakes_when_the_peer_writes_and_sees_the_end() {
        let (a, b) = pair();
        let out = block_on(async move {
            let a = Io::new(a).unwrap();
            let ex = smol::LocalExecutor::new();
            let writer = ex.spawn(async move {
                sleep_until(Instant::now() + Duration::from_millis(20)).await;
                (&b).write_all(b"hello").unwrap();
                drop(b);
            });
            ex.run(async {
                let mut got = Vec::new();
                let mut buf = [0u8; 3];
                loop {
                    let n = a.read_with(|s| (&*s).read(&mut buf)).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                writer.await;
                got
            })
            .await
        })
        .unwrap();
        assert_eq!(out, b"hello");
    }

    #[test]
    fn a_writer_blocked_on_a_full_buffer_resumes_when_the_peer_reads() {
        let (a, b) = pair();
        let total = block_on(async move {
            let a = Io::new(a).unwrap();
            let ex = smol::LocalExecutor::new();
            // The reader drains on another thread, waking this one from outside.
            let reader = std::thread::spawn(move || {
                b.set_nonblocking(false).unwrap();
                let mut n = 0usize;
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    match (&b).read(&mut buf).unwrap() {
                        0 => return n,
                        k => n += k,
                    }
                }
            });
            let chunk = vec![7u8; 1 << 20];
            ex.run(async {
                let mut sent = 0usize;
                while sent < 32 << 20 {
                    let want = chunk.len().min((32 << 20) - sent);
                    sent += a.write_with(|s| (&*s).write(&chunk[..want])).await.unwrap();
                }
                a.get_ref().shutdown(std::net::Shutdown::Write).unwrap();
                sent
            })
            .await;
            drop(a);
            reader.join().unwrap()
        })
        .unwrap();
        assert_eq!(total, 32 << 20);
    }

    #[test]
    fn timers_fire_in_order_and_a_dropped_one_never_does() {
        let order = block_on(async {
            let order = RefCell::new(Vec::new());
            let start = Instant::now();
            let ex = smol::LocalExecutor::new();
            let o = &order;
            ex.run(async {
                let late = async {
                    sleep_until(start + Duration::from_millis(60)).await;
                    o.borrow_mut().push(60);
                };
                let early = async {
                    sleep_until(start + Duration::from_millis(20)).await;
                    o.borrow_mut().push(20);
                };
                let dropped = async {
                    sleep_until(start + Duration::from_millis(40)).await;
                    o.borrow_mut().push(40);
                };
                // `or` drops the 40 ms timer when the 20 ms one finishes first.
                smol::future::zip(late, smol::future::or(early, dropped)).await;
            })
            .await;
            assert!(start.elapsed() >= Duration::from_millis(60));
            order.into_inner()
        })
        .unwrap();
        assert_eq!(order, [20, 60]);
    }

    #[test]
    fn a_task_woken_from_another_thread_resumes() {
        // The wake arrives while the thread sleeps in epoll_wait: only the eventfd ends the wait.
        // Run on a thread of its own so that a lost wake fails the test instead of hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let r = block_on(smol::unblock(|| {
                std::thread::sleep(Duration::from_millis(50));
                7
            }));
            let _ = tx.send(r.ok());
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(Some(7)));
    }

    #[test]
    fn io_outside_block_on_is_an_error() {
        let (a, _b) = pair();
        assert!(Io::new(a).is_err());
    }
}
