use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

// ----- std's documentation examples -----

/// `std::sync::mpsc` module docs, simple streaming channel.
#[test]
fn doc_mpsc_simple_channel() {
    use holdup::sync::mpsc::channel;
    use holdup::thread;

    // Create a simple streaming channel
    let (tx, rx) = channel();
    thread::spawn(move || {
        tx.send(10).unwrap();
    });
    assert_eq!(rx.recv().unwrap(), 10);
}

/// `std::sync::mpsc` module docs, shared channel.
#[test]
fn doc_mpsc_shared_channel() {
    use holdup::sync::mpsc::channel;
    use holdup::thread;

    // Create a shared channel that can be sent along from many threads
    // where tx is the sending half (tx for transmission), and rx is the receiving
    // half (rx for receiving).
    let (tx, rx) = channel();
    for i in 0..10 {
        let tx = tx.clone();
        thread::spawn(move || {
            tx.send(i).unwrap();
        });
    }

    for _ in 0..10 {
        let j = rx.recv().unwrap();
        assert!((0..10).contains(&j)); // (adapted from `0 <= j && j < 10`)
    }
}

/// `std::sync::mpsc` module docs, propagating panics.
#[test]
fn doc_mpsc_hung_up() {
    use holdup::sync::mpsc::channel;

    // The call to recv() will return an error because the channel has already
    // hung up (or been deallocated)
    let (tx, rx) = channel::<i32>();
    drop(tx);
    assert!(rx.recv().is_err());
}

/// `std::sync::mpsc` module docs, synchronous channels.
#[test]
fn doc_mpsc_rendezvous() {
    use holdup::sync::mpsc::sync_channel;
    use holdup::thread;

    let (tx, rx) = sync_channel::<i32>(0);
    thread::spawn(move || {
        // This will wait for the parent thread to start receiving
        tx.send(53).unwrap();
    });
    rx.recv().unwrap();
}

/// `std::sync::mpsc` module docs, unbounded receive loop.
#[test]
fn doc_mpsc_receive_until_all_senders_drop() {
    use holdup::sync::mpsc::sync_channel;
    use holdup::thread;

    let (tx, rx) = sync_channel(3);

    for _ in 0..3 {
        // It would be the same without thread and clone here
        // since there will still be one `tx` left.
        let tx = tx.clone();
        // cloned tx dropped within thread
        thread::spawn(move || tx.send("ok").unwrap());
    }

    // Drop the last sender to stop `rx` waiting for message.
    // The program will not complete if we comment this out.
    // **All** `tx` needs to be dropped for `rx` to have `Err`.
    drop(tx);

    // Unbounded receiver waiting for all senders to complete.
    let mut received = 0; // (added)
    while let Ok(msg) = rx.recv() {
        println!("{msg}");
        received += 1; // (added)
    }

    println!("completed");
    assert_eq!(received, 3); // (added)
}

/// `mpsc::channel`.
#[test]
fn doc_mpsc_channel() {
    use holdup::sync::mpsc::channel;
    use holdup::thread;

    // (adapted: the docs leave it undefined)
    fn expensive_computation() -> u64 {
        (1..=20).product()
    }

    let (sender, receiver) = channel();

    // Spawn off an expensive computation
    thread::spawn(move || {
        sender.send(expensive_computation()).unwrap();
    });

    // Do some useful work for a while

    // Let's see what that answer was
    let answer = receiver.recv().unwrap(); // (adapted: kept for the assertion)
    println!("{answer:?}");
    assert_eq!(answer, 2_432_902_008_176_640_000); // (added)
}

/// `mpsc::sync_channel`.
#[test]
fn doc_mpsc_sync_channel() {
    use holdup::sync::mpsc::sync_channel;
    use holdup::thread;

    let (sender, receiver) = sync_channel(1);

    // this returns immediately
    sender.send(1).unwrap();

    thread::spawn(move || {
        // this will block until the previous message has been received
        sender.send(2).unwrap();
    });

    assert_eq!(receiver.recv().unwrap(), 1);
    assert_eq!(receiver.recv().unwrap(), 2);
}

/// `mpsc::Sender` type docs.
#[test]
fn doc_mpsc_sender() {
    use holdup::sync::mpsc::channel;
    use holdup::thread;

    let (sender, receiver) = channel();
    let sender2 = sender.clone();

    // First thread owns sender
    thread::spawn(move || {
        sender.send(1).unwrap();
    });

    // Second thread owns sender2
    thread::spawn(move || {
        sender2.send(2).unwrap();
    });

    let msg = receiver.recv().unwrap();
    let msg2 = receiver.recv().unwrap();

    assert_eq!(3, msg + msg2);
}

/// `Sender::send`.
#[test]
fn doc_mpsc_sender_send() {
    use holdup::sync::mpsc::channel;

    let (tx, rx) = channel();

    // This send is always successful
    tx.send(1).unwrap();

    // This send will fail because the receiver is gone
    drop(rx);
    assert_eq!(tx.send(1).unwrap_err().0, 1);
}

/// `mpsc::SyncSender` type docs.
#[test]
fn doc_mpsc_sync_sender() {
    use holdup::sync::mpsc::sync_channel;
    use holdup::thread;

    // Create a sync_channel with buffer size 2
    let (sync_sender, receiver) = sync_channel(2);
    let sync_sender2 = sync_sender.clone();

    // First thread owns sync_sender
    thread::spawn(move || {
        sync_sender.send(1).unwrap();
        sync_sender.send(2).unwrap();
    });

    // Second thread owns sync_sender2
    thread::spawn(move || {
        sync_sender2.send(3).unwrap();
        // thread will now block since the buffer is full
        println!("Thread unblocked!");
    });

    let mut msg;
    let mut sum = 0; // (added)

    msg = receiver.recv().unwrap();
    println!("message {msg} received");
    sum += msg; // (added)

    // "Thread unblocked!" will be printed now

    msg = receiver.recv().unwrap();
    println!("message {msg} received");
    sum += msg; // (added)

    msg = receiver.recv().unwrap();

    println!("message {msg} received");
    sum += msg; // (added)
    assert_eq!(sum, 6); // (added)
}

/// `SyncSender::send`.
#[test]
fn doc_mpsc_sync_sender_send() {
    use holdup::sync::mpsc::sync_channel;
    use holdup::thread;

    // Create a rendezvous sync_channel with buffer size 0
    let (sync_sender, receiver) = sync_channel(0);

    thread::spawn(move || {
        println!("sending message...");
        sync_sender.send(1).unwrap();
        // Thread is now blocked until the message is received

        println!("...message received!");
    });

    let msg = receiver.recv().unwrap();
    assert_eq!(1, msg);
}

/// `SyncSender::try_send`.
#[test]
fn doc_mpsc_sync_sender_try_send() {
    use holdup::sync::mpsc::sync_channel;
    use holdup::thread;

    // Create a sync_channel with buffer size 1
    let (sync_sender, receiver) = sync_channel(1);
    let sync_sender2 = sync_sender.clone();

    // First thread owns sync_sender
    let handle1 = thread::spawn(move || {
        sync_sender.send(1).unwrap();
        sync_sender.send(2).unwrap();
        // Thread blocked
    });

    // Second thread owns sync_sender2
    let handle2 = thread::spawn(move || {
        // This will return an error and send
        // no message if the buffer is full
        let _ = sync_sender2.try_send(3);
    });

    let mut msg;
    msg = receiver.recv().unwrap();
    println!("message {msg} received");

    msg = receiver.recv().unwrap();
    println!("message {msg} received");

    // Third message may have never been sent
    match receiver.try_recv() {
        Ok(msg) => println!("message {msg} received"),
        Err(_) => println!("the third message was never sent"),
    }

    // Wait for threads to complete
    handle1.join().unwrap();
    handle2.join().unwrap();
}

/// `mpsc::Receiver` type docs.
#[test]
fn doc_mpsc_receiver() {
    use holdup::sync::mpsc::channel;
    use holdup::thread;
    use std::time::Duration;

    let (send, recv) = channel();

    thread::spawn(move || {
        send.send("Hello world!").unwrap();
        thread::sleep(Duration::from_millis(20)); // block for a while (adapted: 2 s)
        send.send("Delayed for 20 milliseconds").unwrap();
    });

    println!("{}", recv.recv().unwrap()); // Received immediately
    println!("Waiting...");
    println!("{}", recv.recv().unwrap()); // Received after 20 ms
}

/// `Receiver::try_recv`.
#[test]
fn doc_mpsc_try_recv() {
    use holdup::sync::mpsc::{Receiver, channel};

    let (_, receiver): (_, Receiver<i32>) = channel();

    assert!(receiver.try_recv().is_err());
}

/// `Receiver::recv`, first example.
#[test]
fn doc_mpsc_recv() {
    use holdup::sync::mpsc;
    use holdup::thread;

    let (send, recv) = mpsc::channel();
    let handle = thread::spawn(move || {
        send.send(1u8).unwrap();
    });

    handle.join().unwrap();

    assert_eq!(Ok(1), recv.recv());
}

/// `Receiver::recv`, second example.
#[test]
fn doc_mpsc_recv_until_disconnected() {
    use holdup::sync::mpsc;
    use holdup::sync::mpsc::RecvError;
    use holdup::thread;

    let (send, recv) = mpsc::channel();
    let handle = thread::spawn(move || {
        send.send(1u8).unwrap();
        send.send(2).unwrap();
        send.send(3).unwrap();
        drop(send);
    });

    // wait for the thread to join so we ensure the sender is dropped
    handle.join().unwrap();

    assert_eq!(Ok(1), recv.recv());
    assert_eq!(Ok(2), recv.recv());
    assert_eq!(Ok(3), recv.recv());
    assert_eq!(Err(RecvError), recv.recv());
}

/// `Receiver::recv_timeout`, first example.
#[test]
fn doc_mpsc_recv_timeout_ok() {
    use holdup::sync::mpsc;
    use holdup::thread;
    use std::time::Duration;

    let (send, recv) = mpsc::channel();

    thread::spawn(move || {
        send.send('a').unwrap();
    });

    // (adapted: 10 s instead of 400 ms, so that a slow thread start cannot fail the test)
    assert_eq!(recv.recv_timeout(Duration::from_secs(10)), Ok('a'));
}

/// `Receiver::recv_timeout`, second example.
#[test]
fn doc_mpsc_recv_timeout_timeout() {
    use holdup::sync::mpsc;
    use holdup::thread;
    use std::time::Duration;

    let (send, recv) = mpsc::channel();
    // (adapted: instead of sleeping 800 ms, the sender waits until the receiver timed out)
    let (go, wait_for_go) = mpsc::channel::<()>();

    let sender = thread::spawn(move || {
        wait_for_go.recv().unwrap();
        send.send('a').unwrap();
    });

    assert_eq!(
        recv.recv_timeout(Duration::from_millis(20)),
        Err(mpsc::RecvTimeoutError::Timeout)
    );
    go.send(()).unwrap(); // (added)
    sender.join().unwrap(); // (added)
    assert_eq!(recv.recv(), Ok('a')); // (added)
}

/// `Receiver::iter`.
#[test]
fn doc_mpsc_iter() {
    use holdup::sync::mpsc::channel;
    use holdup::thread;

    let (send, recv) = channel();

    thread::spawn(move || {
        send.send(1).unwrap();
        send.send(2).unwrap();
        send.send(3).unwrap();
    });

    let mut iter = recv.iter();
    assert_eq!(iter.next(), Some(1));
    assert_eq!(iter.next(), Some(2));
    assert_eq!(iter.next(), Some(3));
    assert_eq!(iter.next(), None);
}

/// `Receiver::try_iter`.
#[test]
fn doc_mpsc_try_iter() {
    use holdup::sync::mpsc::channel;
    use holdup::thread;

    let (sender, receiver) = channel();
    // (adapted: the docs sleep 1 s in the sender and 2 s here; a start signal and a join
    // make the same ordering deterministic)
    let (start, started) = channel::<()>();

    // nothing is in the buffer yet
    assert!(receiver.try_iter().next().is_none());

    let handle = thread::spawn(move || {
        started.recv().unwrap();
        sender.send(1).unwrap();
        sender.send(2).unwrap();
        sender.send(3).unwrap();
    });

    // nothing is in the buffer yet
    assert!(receiver.try_iter().next().is_none());

    start.send(()).unwrap();
    handle.join().unwrap();

    let mut iter = receiver.try_iter();
    assert_eq!(iter.next(), Some(1));
    assert_eq!(iter.next(), Some(2));
    assert_eq!(iter.next(), Some(3));
    assert_eq!(iter.next(), None);
}

/// `mpsc::Iter` type docs.
#[test]
fn doc_mpsc_iter_type() {
    use holdup::sync::mpsc::channel;
    use holdup::thread;

    let (send, recv) = channel();

    thread::spawn(move || {
        send.send(1u8).unwrap();
        send.send(2u8).unwrap();
        send.send(3u8).unwrap();
    });

    let mut got = Vec::new(); // (added)
    for x in recv.iter() {
        println!("Got: {x}");
        got.push(x); // (added)
    }
    assert_eq!(got, [1, 2, 3]); // (added)
}

/// `mpsc::TryIter` type docs.
#[test]
fn doc_mpsc_try_iter_type() {
    use holdup::sync::mpsc::channel;
    use holdup::thread;

    let (sender, receiver) = channel();

    // Nothing is in the buffer yet
    assert!(receiver.try_iter().next().is_none());
    println!("Nothing in the buffer...");

    let handle = thread::spawn(move || {
        sender.send(1).unwrap();
        sender.send(2).unwrap();
        sender.send(3).unwrap();
    });

    println!("Going to sleep...");
    handle.join().unwrap(); // (adapted: the docs sleep 2 s)

    let mut got = Vec::new(); // (added)
    for x in receiver.try_iter() {
        println!("Got: {x}");
        got.push(x); // (added)
    }
    assert_eq!(got, [1, 2, 3]); // (added)
}

/// `mpsc::IntoIter` type docs.
#[test]
fn doc_mpsc_into_iter_type() {
    use holdup::sync::mpsc::channel;
    use holdup::thread;

    let (send, recv) = channel();

    thread::spawn(move || {
        send.send(1u8).unwrap();
        send.send(2u8).unwrap();
        send.send(3u8).unwrap();
    });

    let mut got = Vec::new(); // (added)
    for x in recv.into_iter() {
        println!("Got: {x}");
        got.push(x); // (added)
    }
    assert_eq!(got, [1, 2, 3]); // (added)
}

// ----- parity with std -----

#[test]
fn receiver_side_disconnection_like_std() {
    let out = on_both!(|sync, _thread| {
        let (tx, rx) = sync::mpsc::channel::<u8>();
        let tx2 = tx.clone();
        let mut log = vec![format!("{tx:?} {rx:?}")];
        log.push(format!(
            "empty: {:?} {:?}",
            rx.try_recv(),
            rx.recv_timeout(Duration::from_millis(10))
        ));
        tx.send(1).unwrap();
        tx2.send(2).unwrap();
        drop(tx);
        log.push(format!("one sender left: {:?}", rx.try_recv()));
        drop(tx2);
        // Buffered messages outlive the senders.
        log.push(format!(
            "buffered: {:?}",
            rx.recv_timeout(Duration::from_millis(10))
        ));
        log.push(format!(
            "disconnected: {:?} {:?} {:?} {:?}",
            rx.try_recv(),
            rx.recv(),
            rx.recv_timeout(Duration::from_millis(10)),
            rx.iter().next()
        ));
        log
    });
    assert_eq!(
        out,
        [
            "Sender { .. } Receiver { .. }",
            "empty: Err(Empty) Err(Timeout)",
            "one sender left: Ok(1)",
            "buffered: Ok(2)",
            "disconnected: Err(Disconnected) Err(RecvError) Err(Disconnected) None",
        ]
    );
}

#[test]
fn sender_side_disconnection_returns_the_value_like_std() {
    let out = on_both!(|sync, _thread| {
        let mut log = Vec::new();
        let (tx, rx) = sync::mpsc::channel::<String>();
        tx.send("kept".to_owned()).unwrap();
        drop(rx);
        let e = tx.send("returned".to_owned()).unwrap_err();
        log.push(format!("send: {e:?} {e} value={}", e.0));

        let (stx, srx) = sync::mpsc::sync_channel::<String>(1);
        log.push(format!("{stx:?}"));
        stx.try_send("a".to_owned()).unwrap();
        match stx.try_send("b".to_owned()) {
            Err(sync::mpsc::TrySendError::Full(v)) => log.push(format!("full: {v}")),
            other => log.push(format!("unexpected: {other:?}")),
        }
        drop(srx);
        match stx.try_send("c".to_owned()) {
            Err(sync::mpsc::TrySendError::Disconnected(v)) => {
                log.push(format!("try_send disconnected: {v}"))
            }
            other => log.push(format!("unexpected: {other:?}")),
        }
        log.push(format!(
            "send: value={}",
            stx.send("d".to_owned()).unwrap_err().0
        ));
        log
    });
    assert_eq!(
        out,
        [
            "send: SendError { .. } sending on a closed channel value=returned",
            "SyncSender { .. }",
            "full: b",
            "try_send disconnected: c",
            "send: value=d",
        ]
    );
}

#[test]
fn recv_timeout_times_out_then_reports_disconnection_like_std() {
    let out = on_both!(|sync, _thread| {
        let (tx, rx) = sync::mpsc::sync_channel::<u8>(0);
        let timeout = rx.recv_timeout(Duration::from_millis(10));
        // Nobody is receiving: Full, with the value.
        let try_send = matches!(tx.try_send(1), Err(sync::mpsc::TrySendError::Full(1)));
        drop(tx);
        (
            timeout,
            try_send,
            rx.recv_timeout(Duration::from_millis(10)),
        )
    });
    assert_eq!(
        out,
        (
            Err(RecvTimeoutError::Timeout),
            true,
            Err(RecvTimeoutError::Disconnected)
        )
    );
}

/// A send on a channel of capacity `cap` returns only once at most `cap` messages are
/// buffered: after the receiver got `k` messages, at most `k + cap` sends have returned.
#[test]
fn bounded_and_rendezvous_sends_wait_for_the_receiver_like_std() {
    let out = on_both!(|sync, thread| {
        let mut log = Vec::new();
        for cap in [0usize, 1, 2] {
            let (tx, rx) = sync::mpsc::sync_channel(cap);
            let sent = sync::Arc::new(AtomicUsize::new(0));
            let sent2 = sync::Arc::clone(&sent);
            let producer = thread::spawn(move || {
                for i in 0..6 {
                    tx.send(i).unwrap();
                    sent2.fetch_add(1, Ordering::SeqCst);
                }
            });
            let mut ok = true;
            let mut got = Vec::new();
            for k in 1..=6 {
                got.push(rx.recv().unwrap());
                thread::yield_now();
                ok &= sent.load(Ordering::SeqCst) <= k + cap;
            }
            producer.join().unwrap();
            log.push(format!(
                "cap {cap}: {got:?} bounded={ok} then {:?}",
                rx.try_recv()
            ));
        }
        log
    });
    assert_eq!(
        out,
        [
            "cap 0: [0, 1, 2, 3, 4, 5] bounded=true then Err(Disconnected)",
            "cap 1: [0, 1, 2, 3, 4, 5] bounded=true then Err(Disconnected)",
            "cap 2: [0, 1, 2, 3, 4, 5] bounded=true then Err(Disconnected)",
        ]
    );
}

#[test]
fn iterators_like_std() {
    let out = on_both!(|sync, thread| {
        let (tx, rx) = sync::mpsc::channel();
        for i in 0..3 {
            tx.send(i).unwrap();
        }
        let mut log = vec![format!("{:?}", rx.iter()), format!("{:?}", rx.try_iter())];
        log.push(format!("try_iter: {:?}", rx.try_iter().collect::<Vec<_>>()));
        log.push(format!("try_iter on empty: {:?}", rx.try_iter().next()));
        let producer = thread::spawn(move || {
            for i in 10..13 {
                tx.send(i).unwrap();
            }
        });
        let mut by_ref = Vec::new();
        for v in &rx {
            by_ref.push(v);
            if by_ref.len() == 2 {
                break;
            }
        }
        producer.join().unwrap();
        log.push(format!("&rx: {by_ref:?}"));
        let into_iter = rx.into_iter();
        log.push(format!("{into_iter:?}"));
        log.push(format!("into_iter: {:?}", into_iter.collect::<Vec<_>>()));
        log
    });
    assert_eq!(
        out,
        [
            "Iter { rx: Receiver { .. } }",
            "TryIter { rx: Receiver { .. } }",
            "try_iter: [0, 1, 2]",
            "try_iter on empty: None",
            "&rx: [10, 11]",
            "IntoIter { rx: Receiver { .. } }",
            "into_iter: [12]",
        ]
    );
}
