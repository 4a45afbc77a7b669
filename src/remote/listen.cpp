#include "remote/listen.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

#include "core/error.h"

namespace rtml::remote {

namespace {

using Clock = std::chrono::steady_clock;

// httplib's worker pool, but threads are started only when every started one
// is busy (up to `max`), and all are joined at shutdown.
class GrowingPool final : public httplib::TaskQueue {
 public:
  explicit GrowingPool(size_t max) : max_(max) {}

  void enqueue(std::function<void()> fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(fn));
    if (idle_ < tasks_.size() && threads_.size() < max_) threads_.emplace_back([this] { work(); });
    cv_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();  // httplib enqueues nothing after shutdown
  }

 private:
  void work() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      --idle_;
      if (tasks_.empty()) return;  // stopping, and nothing left to serve
      std::function<void()> fn = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  const size_t max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool stopping_ = false;
};

void address_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  int r = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len)
               : ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "";
  if (r != 0 || ::getnameinfo(reinterpret_cast<sockaddr*>(&a), len, host, sizeof host, serv, sizeof serv,
                              NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    ip = "?";
    port = 0;
    return;
  }
  ip = host;
  port = std::atoi(serv);
}

// One accepted connection as httplib's Stream: buffered reads that give up
// at the request's deadline, at the per-read timeout, or when the server
// stops; writes with the per-write timeout (or when the server stops).
class Connection final : public httplib::Stream {
 public:
  Connection(int fd, Clock::duration read_timeout, Clock::duration write_timeout, const std::atomic<int>& listening)
      : fd_(fd), read_timeout_(read_timeout), write_timeout_(write_timeout), listening_(listening) {
    address_of(fd, true, peer_ip_, peer_port_);
    // httplib writes an answer's head and body separately: without this the
    // body waits for the client's delayed ACK of the head (40 ms on Linux).
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }

  void set_deadline(Clock::time_point t) { deadline_ = t; }
  const std::string& peer() const { return peer_ip_; }

  // Waits up to `idle` for the next request's first byte (or the peer closing).
  bool wait_for_request(Clock::duration idle) {
    deadline_ = Clock::time_point::max();
    return pos_ < end_ || wait(POLLIN, idle);
  }

  bool is_readable() const override { return pos_ < end_ || wait(POLLIN, read_timeout_); }
  // (the answer is not held to the request's deadline: a handler may take its time)
  bool is_writable() const override { return wait(POLLOUT, write_timeout_, false); }

  ssize_t read(char* ptr, size_t size) override {
    if (pos_ == end_) {
      if (!wait(POLLIN, read_timeout_)) return -1;
      ssize_t n;
      do n = ::recv(fd_, buf_, sizeof buf_, 0);
      while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      pos_ = 0;
      end_ = static_cast<size_t>(n);
    }
    size_t n = std::min(size, end_ - pos_);
    std::memcpy(ptr, buf_ + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    ssize_t n;
    do n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = peer_ip_;
    port = peer_port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address_of(fd_, false, ip, port); }
  socket_t socket() const override { return fd_; }

 private:
  // Polls in short slices so that a stopping server is noticed.
  bool wait(short events, Clock::duration timeout, bool by_deadline = true) const {
    const Clock::time_point now = Clock::now();
    const Clock::time_point until = by_deadline ? std::min(deadline_, now + timeout) : now + timeout;
    for (;;) {
      if (listening_.load() == INVALID_SOCKET) return false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, events, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 200)));
      if (r > 0) return true;
      if (r < 0 && errno != EINTR) return false;
    }
  }

  int fd_;
  Clock::duration read_timeout_, write_timeout_;
  const std::atomic<int>& listening_;
  Clock::time_point deadline_ = Clock::time_point::max();
  std::string peer_ip_;
  int peer_port_ = 0;
  char buf_[4096];
  size_t pos_ = 0, end_ = 0;
};

class GuardedServer final : public httplib::Server {
 public:
  GuardedServer(const ConnectionLimits& limits, std::function<std::string(const std::string&)> error_json)
      : limits_(limits), error_json_(std::move(error_json)) {
    set_keep_alive_timeout(limits.idle_timeout_s);
    const size_t threads = static_cast<size_t>(limits.max_threads);
    new_task_queue = [threads] { return new GrowingPool(threads); };
  }

  // httplib listens with a backlog of 5: a burst of connections overflows
  // it, and a client whose handshake completed while the queue was full (and
  // that sends nothing) can be left connected to nothing for a minute.
  void widen_backlog() { ::listen(svr_sock_, SOMAXCONN); }

 private:
  static Clock::duration seconds(time_t sec, time_t usec) {
    return std::chrono::seconds(sec) + std::chrono::microseconds(usec);
  }

  bool process_and_close_socket(socket_t sock) override {
    Connection conn(sock, seconds(read_timeout_sec_, read_timeout_usec_), seconds(write_timeout_sec_, write_timeout_usec_),
                    svr_sock_);
    const std::string& peer = conn.peer();
    bool admitted;
    {
      std::lock_guard<std::mutex> lock(mu_);
      admitted = ++open_[peer] <= limits_.max_per_client;
    }
    if (!admitted) {
      refuse(conn);
    } else {
      const auto request_time = std::chrono::seconds(limits_.request_timeout_s);
      for (size_t left = keep_alive_max_count_; left > 0; --left) {
        if (!conn.wait_for_request(std::chrono::seconds(keep_alive_timeout_sec_))) break;
        conn.set_deadline(Clock::now() + request_time);
        bool closed = false;
        bool ok = process_request(conn, left == 1, closed, [&](httplib::Request& req) {
          // The headers are in: the body, if any, gets time by its length
          // (a day at most, whatever length is claimed).
          double length = 0;
          if (req.has_header("Content-Length")) length = std::atof(req.get_header_value("Content-Length").c_str());
          if (!(length >= 0)) length = 0;
          auto body_time = std::chrono::duration_cast<Clock::duration>(
              std::chrono::duration<double>(std::min(length / limits_.min_body_bytes_per_s, 86400.0)));
          conn.set_deadline(Clock::now() + request_time + body_time);
        });
        if (!ok || closed) break;
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--open_[peer] == 0) open_.erase(peer);
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return true;
  }

  // 503 without reading the request; then a short wait for the client's
  // side to close, so that what it sent meanwhile does not turn the close
  // into a reset that could lose the answer.
  void refuse(Connection& conn) {
    std::string body = error_json_("too many connections from " + conn.peer() + " (at most " +
                                   std::to_string(limits_.max_per_client) + " at a time): try again when one has closed");
    std::string text = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: close\r\nRetry-After: 1\r\n\r\n" + body;
    for (size_t off = 0; off < text.size();) {
      ssize_t n = conn.write(text.data() + off, text.size() - off);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
    ::shutdown(conn.socket(), SHUT_WR);
    conn.set_deadline(Clock::now() + std::chrono::seconds(1));
    char sink[1024];
    while (conn.read(sink, sizeof sink) > 0) {
    }
  }

  ConnectionLimits limits_;
  std::function<std::string(const std::string&)> error_json_;
  std::mutex mu_;
  std::map<std::string, int> open_;  // connections per client address
};

}  // namespace

std::unique_ptr<httplib::Server> make_guarded_server(const ConnectionLimits& limits,
                                                     std::function<std::string(const std::string&)> error_json) {
  if (limits.idle_timeout_s < 1 || limits.request_timeout_s < 1 || !(limits.min_body_bytes_per_s > 0) ||
      limits.max_per_client < 1 || limits.max_threads < 1)
    throw Error("connection limits must be positive (idle " + std::to_string(limits.idle_timeout_s) + " s, request " +
                std::to_string(limits.request_timeout_s) + " s, " + std::to_string(limits.max_per_client) +
                " per client, " + std::to_string(limits.max_threads) + " threads)");
  return std::make_unique<GuardedServer>(limits, std::move(error_json));
}

int bind_server(httplib::Server& server, const std::string& host, int port, const std::string& busy_hint) {
  if (port == 0) {
    port = server.bind_to_any_port(host);
    if (port <= 0) throw Error("cannot listen on " + host + ": " + std::strerror(errno));
  } else if (!server.bind_to_port(host, port)) {
    throw Error("cannot listen on " + host + ":" + std::to_string(port) + ": " + std::strerror(errno) + " (" +
                busy_hint + ")");
  }
  if (auto* guarded = dynamic_cast<GuardedServer*>(&server)) guarded->widen_backlog();
  return port;
}

std::string exception_text(std::exception_ptr ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

}  // namespace rtml::remote
