//! Catching the signals a terminal can send (INT, TERM, HUP, QUIT) without a Tokio
//! runtime, with `sigaction`: while `secrets edit` has a plaintext copy on disk, so the
//! copy is zeroed and removed before fleetdeck exits, instead of the process dying with
//! the file left behind.
//!
//! The handler only writes the signal number, and whether the terminal sent it, to a
//! pipe (async-signal-safe); the editing code reads the pipe where it waits.

use std::cell::RefCell;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// The signals caught while a plaintext copy exists.
pub(crate) const CAUGHT: [libc::c_int; 4] =
    [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// The pipe's write end while a [`Catch`] is alive, else -1.
static PIPE_W: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: only async-signal-safe calls; errno is restored for the interrupted code.
    unsafe {
        let errno = *libc::__errno_location();
        // The terminal driver sends INT and QUIT with SI_KERNEL; kill(2) with SI_USER.
        let from_terminal = !info.is_null() && (*info).si_code == libc::SI_KERNEL;
        let fd = PIPE_W.load(Ordering::Relaxed);
        if fd >= 0 {
            let msg = [sig as u8, u8::from(from_terminal)];
            libc::write(fd, msg.as_ptr().cast(), msg.len());
        }
        *libc::__errno_location() = errno;
    }
}

/// One signal received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Received {
    pub(crate) signal: libc::c_int,
    /// Sent by the terminal to its foreground process group (Ctrl-C, Ctrl-\), so an
    /// editor in that group got it too.
    pub(crate) from_terminal: bool,
}

/// While alive, INT, TERM, HUP and QUIT are caught instead of ending the process. A
/// signal the process ignored when this was made (HUP under `nohup`) stays ignored.
/// Dropping it restores the previous dispositions.
pub(crate) struct Catch {
    read: RawFd,
    write: RawFd,
    previous: Vec<(libc::c_int, libc::sigaction)>,
    /// Signals read from the pipe and put back by [`Catch::requeue`].
    requeued: RefCell<Vec<Received>>,
}

impl Catch {
    pub(crate) fn install() -> io::Result<Catch> {
        let mut fds = [-1; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut catch = Catch {
            read: fds[0],
            write: fds[1],
            previous: Vec::new(),
            requeued: RefCell::new(Vec::new()),
        };
        if PIPE_W
            .compare_exchange(-1, catch.write, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Err(io::Error::other("signals are already being caught"));
        }
        for sig in CAUGHT {
            // SAFETY: a zeroed sigaction is a valid out-parameter; we read the current
            // disposition first and install ours only over a non-ignored one.
            unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if old.sa_sigaction == libc::SIG_IGN {
                    continue;
                }
                let mut new: libc::sigaction = std::mem::zeroed();
                new.sa_sigaction = on_signal as *const () as usize;
                new.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
                libc::sigemptyset(&mut new.sa_mask);
                if libc::sigaction(sig, &new, std::ptr::null_mut()) != 0 {
                    return Err(io::Error::last_os_error());
                }
                catch.previous.push((sig, old));
            }
        }
        Ok(catch)
    }

    /// The signals received since the last call, oldest first; never blocks.
    pub(crate) fn take(&self) -> Vec<Received> {
        let mut out = std::mem::take(&mut *self.requeued.borrow_mut());
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: reads into `buf` at most its length.
            let n = unsafe { libc::read(self.read, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                break;
            }
            for pair in buf[..n as usize].chunks_exact(2) {
                out.push(Received {
                    signal: libc::c_int::from(pair[0]),
                    from_terminal: pair[1] == 1,
                });
            }
        }
        out
    }

    /// Puts signals back, to be returned by the next [`Catch::take`].
    pub(crate) fn requeue(&self, signals: &[Received]) {
        self.requeued.borrow_mut().extend_from_slice(signals);
    }

    /// Waits until a signal arrives or `fd` (when given) is readable, at most `timeout`
    /// (forever when `None`). Returns the signals received.
    pub(crate) fn wait(&self, fd: Option<RawFd>, timeout: Option<Duration>) -> Vec<Received> {
        let mut fds = vec![libc::pollfd {
            fd: self.read,
            events: libc::POLLIN,
            revents: 0,
        }];
        if let Some(fd) = fd {
            fds.push(libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let ms = match deadline {
                None => -1,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX)
                }
            };
            // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs.
            let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
            if r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return self.take();
        }
    }
}

impl Drop for Catch {
    fn drop(&mut self) {
        for (sig, old) in &self.previous {
            // SAFETY: restores a disposition sigaction gave us.
            unsafe {
                libc::sigaction(*sig, old, std::ptr::null_mut());
            }
        }
        PIPE_W.store(-1, Ordering::SeqCst);
        // SAFETY: both descriptors are ours and closed once.
        unsafe {
            libc::close(self.read);
            libc::close(self.write);
        }
    }
}
