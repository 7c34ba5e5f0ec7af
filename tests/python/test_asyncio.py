"""asyncio: publishers and subscribers in one event loop, without busy-spinning."""
import asyncio
import time

import shmbus

N = 20_000


def test_two_publishers_three_async_subscribers_in_one_loop(bus):
    async def main():
        with shmbus.Bus(bus) as b:
            b.create_topic("a.x")
            b.create_topic("b.y")
            subs = [b.subscribe("a.#", start="earliest"), b.subscribe("b.#", start="earliest"),
                    b.subscribe("#", start="earliest")]

            async def consume(sub, count):
                got = []
                async for msg in sub:
                    got.append((msg.topic, bytes(msg.data)))
                    if len(got) == count:
                        return got

            async def produce(topic, tag):
                pub = b.publisher(topic)
                for i in range(N):
                    await pub.publish_async(f"{tag}{i}".encode(), {"i": str(i)})
                    if i % 500 == 0:
                        await asyncio.sleep(0)  # let the consumers run meanwhile

            return await asyncio.wait_for(asyncio.gather(
                consume(subs[0], N), consume(subs[1], N), consume(subs[2], 2 * N),
                produce("a.x", "a"), produce("b.y", "b")), timeout=120)

    only_a, only_b, everything, _, _ = asyncio.run(main())
    assert only_a == [("a.x", f"a{i}".encode()) for i in range(N)]
    assert only_b == [("b.y", f"b{i}".encode()) for i in range(N)]
    assert [m for m in everything if m[0] == "a.x"] == only_a  # per-topic order kept
    assert [m for m in everything if m[0] == "b.y"] == only_b


def test_waiting_async_subscriber_sleeps_instead_of_spinning(bus):
    async def main():
        with shmbus.Bus(bus) as b:
            sub = b.subscribe("idle")
            pub = b.publisher("idle")
            cpu_before, wall_before = time.process_time(), time.monotonic()
            waiter = asyncio.ensure_future(sub.receive_async(timeout=10))
            await asyncio.sleep(1.0)
            assert not waiter.done()
            idle_cpu = time.process_time() - cpu_before
            await pub.publish_async(b"wake up")
            msg = await asyncio.wait_for(waiter, timeout=5)
            return idle_cpu, time.monotonic() - wall_before, bytes(msg.data)

    idle_cpu, wall, data = asyncio.run(main())
    assert data == b"wake up"
    assert idle_cpu < 0.2, f"the loop burned {idle_cpu:.2f} s of CPU while waiting {wall:.1f} s"


def test_receive_async_times_out_with_none(bus):
    async def main():
        with shmbus.Bus(bus) as b:
            return await b.subscribe("nothing").receive_async(timeout=0.2)

    start = time.monotonic()
    assert asyncio.run(main()) is None
    assert time.monotonic() - start < 5
