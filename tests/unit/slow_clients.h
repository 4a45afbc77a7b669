// Clients that hold a server's connections, for the agent's and rtml ui's
// tests (remote/listen.h): `n` that send a request's first line and then a
// header byte every 200 ms (never stalling long enough for a read timeout),
// and `n` that connect and send nothing. Each holds its connection until the
// server closes it, or for `hold` at most.
#pragma once

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace rtml::test {

struct HeldConnections {
  bool answered = false;      // `request` returned true...
  int holds_ended_first = 0;  // ...after this many clients had held for all of `hold`
  int slow_closed = 0;        // slow clients the server closed (of n)
  int idle_closed = 0;        // idle clients the server closed (of n)
};

inline int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Opens the 2n connections, then calls `request` (a valid request to the
// server, true if answered as expected) while they are held, then waits for
// every holder to finish.
inline HeldConnections hold_connections(int port, int n, const std::function<bool()>& request,
                                        std::chrono::seconds hold = std::chrono::seconds(60)) {
  HeldConnections out;
  std::atomic<int> ended{0}, slow_closed{0}, idle_closed{0}, opened{0}, failed{0};
  auto holder = [&](bool slow) {
    int fd = connect_loopback(port);
    if (fd < 0) {
      ++failed;
      return;
    }
    if (slow) ::send(fd, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", 42, MSG_NOSIGNAL);
    ++opened;
    const auto until = std::chrono::steady_clock::now() + hold;
    bool closed = false;
    while (!closed && std::chrono::steady_clock::now() < until) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 200) > 0) {  // readable: the server closed it (or answered, then closed)
        char buf[512];
        ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        closed = r <= 0;
        continue;
      }
      if (slow && ::send(fd, "x", 1, MSG_NOSIGNAL) != 1) closed = true;
    }
    if (closed) ++(slow ? slow_closed : idle_closed);
    else ++ended;
    ::close(fd);
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back(holder, true);
    threads.emplace_back(holder, false);
  }
  while (opened + failed < 2 * n && ended + slow_closed + idle_closed == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  out.answered = request();
  out.holds_ended_first = ended;
  for (auto& t : threads) t.join();
  out.slow_closed = slow_closed;
  out.idle_closed = idle_closed;
  return out;
}

// What a guarded server (remote/listen.h) does with them: `who` answered
// the valid request while the holders still held, and closed every one of
// them (the idle ones and the header tricklers) before their hold ran out.
inline void expect_served_and_closed(const HeldConnections& held, int n, const std::string& who) {
  EXPECT_TRUE(held.answered) << who;
  EXPECT_EQ(held.holds_ended_first, 0) << who << " answered only after slow clients gave up by themselves";
  EXPECT_EQ(held.slow_closed, n) << who << " let a client send headers a byte at a time for a minute";
  EXPECT_EQ(held.idle_closed, n) << who << " kept an idle connection for a minute";
}

}  // namespace rtml::test
