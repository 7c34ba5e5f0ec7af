// A saga declared in code: a state machine over the user's data struct. Each transition names
// the state it applies in, the message that fires it, how that message finds its instance, and
// what it does (a Step: send, publish, schedule, cancel, go, complete).
//   struct Order { int id = 0; int qty = 0; std::string why; };   // + to_json / from_json
//   saga::Machine<Order> m("order-saga");
//   m.initially<OrderPlaced>(saga::by_field(&OrderPlaced::order), [](Order& o, const OrderPlaced& e, saga::Step& s) {
//     o.id = e.order;  s.send(ReserveStock{e.order, e.qty}, "inventory");  s.go("reserving");
//   });
//   m.during<StockReserved>("reserving", saga::by_correlation_id, ...);
//   m.on_timeout<PaymentTimeout>("paying", key, ...);
// A message type may fire transitions in several states (one per state); one that comes in a
// state without a transition for it is `unexpected` (SagaOptions: ignored by default).
// Transitions run inside the store's transaction (holding its lock on the instance, SQLite: on
// the file), on the endpoint's threads, several at once for different instances: keep them
// short, without I/O of their own (what they want done, they send), and without shared state.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "shmbus/error.h"
#include "shmbus/saga/step.h"
#include "shmbus/service/codec.h"
#include "shmbus/service/envelope.h"
#include "shmbus/service/message_type.h"

namespace shmbus::saga {

inline constexpr std::string_view kInitial = "initial";  // the state a new instance is in

// Keys: the flow's correlation-id (every message of a flow carries it, kept by each handler),
// or a field of the message (its value as text).
inline constexpr auto by_correlation_id = [](const auto&, const service::Envelope& env) { return env.correlation_id; };
template <class T, class F>
auto by_field(F T::*field) {
  return [field](const T& m, const service::Envelope&) {
    if constexpr (std::is_convertible_v<F, std::string>) {
      return std::string(m.*field);
    } else {
      return std::to_string(m.*field);
    }
  };
}

// The type-erased machine the saga endpoint runs.
struct Definition {
  struct Transition {
    // Applies the transition to the instance's data (JSON), given the decoded message.
    std::function<void(std::string& data, const void* message, Step& step)> apply;
  };
  struct Route {
    service::MessageType type;
    std::function<std::shared_ptr<const void>(std::string_view payload)> decode;  // throws DecodeError
    std::function<std::string(const void* message, const service::Envelope& env)> key;
    std::map<std::string, Transition, std::less<>> by_state;  // kInitial: it starts an instance
    bool timeout = false;  // scheduled by the saga: handled only while pending
  };
  std::string name;
  std::map<std::string, Route, std::less<>> routes;  // by type header "Name@version"
};

template <class Data>
class Machine {
 public:
  // `name`: the saga's name: its endpoint (queue) and its key space in the store.
  explicit Machine(std::string name) { def_.name = std::move(name); }

  // `T` starts an instance (keyed by key(message, envelope)) when none exists for its key.
  template <service::ServiceMessage T, class Key, class F>
  Machine& initially(Key key, F f) {
    return add<T>(std::string(kInitial), std::move(key), std::move(f), false);
  }
  // `T` moves an instance that is in `state`.
  template <service::ServiceMessage T, class Key, class F>
  Machine& during(std::string state, Key key, F f) {
    return add<T>(std::move(state), std::move(key), std::move(f), false);
  }
  // A timeout the saga scheduled (Step::schedule) fired while the instance is in `state` and
  // the timeout still pending.
  template <service::ServiceMessage T, class Key, class F>
  Machine& on_timeout(std::string state, Key key, F f) {
    return add<T>(std::move(state), std::move(key), std::move(f), true);
  }

  const Definition& definition() const noexcept { return def_; }

 private:
  template <service::ServiceMessage T, class Key, class F>
  Machine& add(std::string state, Key key, F f, bool timeout) {
    const service::MessageType type = service::message_type_of<T>();
    if (type.kind == service::MessageKind::kReply) {
      throw Error("saga " + def_.name + ": " + type.type_header() + " is a reply; a saga is moved by events and commands "
                  "(have the participant publish an event)", ErrorKind::kInvalidArgument);
    }
    if (timeout && type.kind != service::MessageKind::kCommand) {
      throw Error("saga " + def_.name + ": timeout " + type.type_header() + " must be a command (it is sent to the saga)",
                  ErrorKind::kInvalidArgument);
    }
    Definition::Route& route = def_.routes[type.type_header()];
    if (!route.decode) {
      route.type = type;
      route.timeout = timeout;
      route.decode = [](std::string_view payload) -> std::shared_ptr<const void> {
        return std::make_shared<const T>(service::decode<T>(payload));
      };
      route.key = [key = std::move(key)](const void* m, const service::Envelope& env) {
        return std::string(key(*static_cast<const T*>(m), env));
      };
    } else if (route.timeout != timeout) {
      throw Error("saga " + def_.name + ": " + type.type_header() + " is a timeout in one state and not in another",
                  ErrorKind::kInvalidArgument);
    }
    if (route.by_state.contains(state)) {
      throw Error("saga " + def_.name + ": two transitions for " + type.type_header() + " in state " + state,
                  ErrorKind::kInvalidArgument);
    }
    route.by_state[state].apply = [f = std::move(f)](std::string& data, const void* m, Step& step) mutable {
      Data d = data.empty() ? Data{} : nlohmann::json::parse(data).get<Data>();
      f(d, *static_cast<const T*>(m), step);
      data = nlohmann::json(d).dump();
    };
    return *this;
  }

  Definition def_;
};

}  // namespace shmbus::saga
