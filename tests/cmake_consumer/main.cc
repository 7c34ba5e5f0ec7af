#include <shmbus/shmbus.h>

int main() {
  shmbus::Bus bus = shmbus::Bus::open("/dev/shm/shmbus-consumer-test");
  shmbus::Subscription sub = bus.subscribe("consumer.check");
  shmbus::Publisher pub = bus.publisher("consumer.check");
  if (!pub.publish("ok")) return 1;
  auto n = sub.poll([](const shmbus::Message&) {});
  return n && *n == 1 ? 0 : 1;
}
