// rtml agent (remote/agent.h), started in this process on 127.0.0.1 and
// driven with httplib::Client and raw sockets: SHA-256 against FIPS 180-2
// vectors, tokens, upload limits and interrupted uploads, strict job
// validation (invalid UTF-8, numbers out of range), slow and idle clients,
// the per-client connection cap, real bench jobs, the job time limit (a job
// that never ends), two clients at once.
#ifdef RTML_WITH_REMOTE

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <httplib.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "remote/agent.h"
#include "remote/sha256.h"
#include "slow_clients.h"

using namespace rtml;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// --- SHA-256 -------------------------------------------------------------------

TEST(Sha256, Fips180Vectors) {
  // FIPS 180-2, appendix B.1 ("abc") and B.3 (one million 'a'); the empty
  // message's digest is the well-known e3b0c442... value.
  EXPECT_EQ(remote::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(remote::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::string million(1000000, 'a');
  EXPECT_EQ(remote::sha256_hex(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // FIPS 180-2 B.2: 448 bits, so the padding spills into a second block.
  EXPECT_EQ(remote::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, PiecewiseUpdatesMatchOneShot) {
  std::string million(1000000, 'a');
  remote::Sha256 h;
  size_t pos = 0, step = 1;
  while (pos < million.size()) {  // pieces of 1, 2, ... 97 bytes, crossing block edges everywhere
    size_t n = std::min(step, million.size() - pos);
    h.update(million.data() + pos, n);
    pos += n;
    step = step % 97 + 1;
  }
  EXPECT_EQ(h.hex_digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // reset after digest: the next message starts afresh
  h.update("abc", 3);
  EXPECT_EQ(h.hex_digest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(remote::is_sha256_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  EXPECT_FALSE(remote::is_sha256_hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
  EXPECT_FALSE(remote::is_sha256_hex("ba7816bf"));
}

TEST(Sha256, FileIsHashedInChunks) {
  // one million 'a' (FIPS 180-2 B.3) from a file: 15 full 64 KiB reads and a partial one
  fs::path p = fs::temp_directory_path() / ("rtml_sha256_" + std::to_string(::getpid()));
  std::ofstream(p, std::ios::binary) << std::string(1000000, 'a');
  EXPECT_EQ(remote::sha256_hex_file(p.string()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  std::ofstream(p, std::ios::binary | std::ios::trunc);  // empty
  EXPECT_EQ(remote::sha256_hex_file(p.string()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  fs::remove(p);
  try {
    remote::sha256_hex_file(p.string());
    ADD_FAILURE() << "no error for a missing file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
  }
}

// --- helpers -------------------------------------------------------------------

fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("rtml_agent_test_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(d);
  return d;
}

std::vector<std::string> files_in(const fs::path& d) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(d, ec)) out.push_back(e.path().filename().string());
  return out;
}

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(g() & 0xff);
  return s;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

const std::string kToken = "test-token-5d1f0c";

struct TestAgent {
  fs::path dir;
  std::unique_ptr<remote::Agent> agent;
  int port = 0;

  explicit TestAgent(const std::string& name, remote::AgentOptions o = {}) {
    dir = fresh_dir(name);
    o.workdir = dir.string();
    if (o.token.empty() && !o.insecure_local) o.token = kToken;
    o.log = false;
#ifdef RTML_CLI_PATH
    if (o.rtml_exe.empty()) o.rtml_exe = RTML_CLI_PATH;
#endif
    agent = std::make_unique<remote::Agent>(o);
    port = agent->start();
  }
  ~TestAgent() {
    agent.reset();
    fs::remove_all(dir);
  }
  std::unique_ptr<httplib::Client> client(const std::string& token = kToken) const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
    if (!token.empty()) c->set_bearer_token_auth(token.c_str());
    c->set_read_timeout(120, 0);  // a guard against a hang, not a speed limit
    return c;
  }
};

// A raw connection: what httplib::Client cannot do (lie about lengths, stop halfway).
struct RawConn {
  int fd = -1;
  explicit RawConn(int port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) ADD_FAILURE() << "cannot connect";
    timeval tv{120, 0};  // a guard against a hang
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawConn() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  bool send(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // One response: status and body (by its Content-Length). Status 0 if none came.
  std::pair<int, std::string> response() {
    std::string buf;
    char c[4096];
    size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(fd, c, sizeof c, 0);
      if (n <= 0) return {0, buf};
      buf.append(c, static_cast<size_t>(n));
    }
    int status = std::atoi(buf.c_str() + buf.find(' ') + 1);
    size_t length = 0;
    std::string head = buf.substr(0, head_end);
    for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    size_t cl = head.find("content-length:");
    if (cl != std::string::npos) length = std::strtoul(head.c_str() + cl + 15, nullptr, 10);
    std::string body = buf.substr(head_end + 4);
    while (body.size() < length) {
      ssize_t n = ::recv(fd, c, sizeof c, 0);
      if (n <= 0) break;
      body.append(c, static_cast<size_t>(n));
    }
    return {status, body};
  }
};

std::string error_code(const std::string& body) {
  try {
    return json::parse(body).at("error").at("code").get<std::string>();
  } catch (const std::exception&) {
    return "(not a JSON error: " + body + ")";
  }
}
std::string error_message(const std::string& body) {
  try {
    return json::parse(body).at("error").at("message").get<std::string>();
  } catch (const std::exception&) {
    return "(not a JSON error: " + body + ")";
  }
}

// --- starting ----------------------------------------------------------------

TEST(Agent, RefusesToStartWithoutTokenUnlessLoopbackAndInsecureLocal) {
  fs::path d = fresh_dir("start");
  remote::AgentOptions o;
  o.workdir = d.string();
  o.host = "127.0.0.1";
  EXPECT_THROW(remote::Agent{o}, Error);  // no token, no --insecure-local
  o.insecure_local = true;
  o.host = "0.0.0.0";
  try {
    remote::Agent a(o);
    ADD_FAILURE() << "started on 0.0.0.0 without a token";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("loopback"), std::string::npos) << e.what();
  }
  o.host = "127.0.0.1";
  EXPECT_NO_THROW(remote::Agent{o});
  EXPECT_TRUE(remote::is_loopback_address("::1"));
  EXPECT_TRUE(remote::is_loopback_address("127.8.0.1"));
  EXPECT_FALSE(remote::is_loopback_address("192.168.7.2"));
  EXPECT_FALSE(remote::is_loopback_address("::"));

  // token files: empty is an error; readable by others warns
  fs::create_directories(d);
  std::string warning;
  std::ofstream(d / "empty") << "  \n";
  EXPECT_THROW(remote::read_agent_token((d / "empty").string(), warning), Error);
  std::ofstream(d / "tok") << "  s3cret \nsecond line\n";
  ::chmod((d / "tok").c_str(), 0600);
  EXPECT_EQ(remote::read_agent_token((d / "tok").string(), warning), "s3cret");
  EXPECT_EQ(warning, "");
  ::chmod((d / "tok").c_str(), 0644);
  remote::read_agent_token((d / "tok").string(), warning);
  EXPECT_NE(warning.find("chmod 600"), std::string::npos) << warning;

  // a folder holding other files is not taken as a workdir
  fs::path other = fresh_dir("other");
  fs::create_directories(other);
  std::ofstream(other / "precious.txt") << "keep me\n";
  o.workdir = other.string();
  EXPECT_THROW(remote::Agent{o}, Error);
  EXPECT_TRUE(fs::exists(other / "precious.txt"));
  fs::remove_all(other);
  fs::remove_all(d);
}

// --- tokens --------------------------------------------------------------------

TEST(Agent, NoTokenAndWrongTokenGetTheSame401) {
  TestAgent t("auth");
  auto none = t.client("")->Get("/v1/info");
  auto wrong = t.client("test-token-5d1f0d")->Get("/v1/info");
  auto longer = t.client(kToken + "x")->Get("/v1/info");
  ASSERT_TRUE(none && wrong && longer);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(longer->status, 401);
  EXPECT_EQ(error_code(none->body), "unauthorized");
  EXPECT_EQ(none->body, wrong->body);  // nothing tells which
  // an upload with a wrong token stores nothing
  auto put = t.client("nope")->Put("/v1/blobs/" + remote::sha256_hex("abc"), "abc", "application/octet-stream");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 401);
  EXPECT_TRUE(files_in(t.dir / "blobs").empty());

  auto ok = t.client()->Get("/v1/info");
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 200) << ok->body;
  json info = json::parse(ok->body);
  EXPECT_EQ(info["protocol"], 1);
  EXPECT_EQ(info["limits"]["max_body_bytes"], 256 << 20);
  EXPECT_EQ(info["limits"]["max_queue"], 8);
  EXPECT_EQ(info["backends"][0], "native");
  EXPECT_FALSE(info["host"]["arch"].get<std::string>().empty());
}

// --- uploads -------------------------------------------------------------------

TEST(Agent, BlobUploadStoresByHashAndRefusesMismatch) {
  TestAgent t("blobs");
  auto c = t.client();
  std::string data = random_bytes(300000, 1);
  std::string h = remote::sha256_hex(data);
  auto head = c->Head("/v1/blobs/" + h);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 404);
  auto put = c->Put("/v1/blobs/" + h, data, "application/octet-stream");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 201) << put->body;
  EXPECT_EQ(read_file(t.dir / "blobs" / h), data);
  EXPECT_EQ(c->Head("/v1/blobs/" + h)->status, 200);
  EXPECT_EQ(c->Put("/v1/blobs/" + h, data, "application/octet-stream")->status, 200);  // already there

  // bytes that do not hash to the name: 409, nothing kept
  std::string other = random_bytes(1000, 2);
  std::string wrong_name = remote::sha256_hex("something else");
  auto bad = c->Put("/v1/blobs/" + wrong_name, other, "application/octet-stream");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 409);
  EXPECT_EQ(error_code(bad->body), "hash_mismatch");
  EXPECT_FALSE(fs::exists(t.dir / "blobs" / wrong_name));
  EXPECT_FALSE(fs::exists(t.dir / "blobs" / remote::sha256_hex(other)));
  EXPECT_TRUE(files_in(t.dir / "tmp").empty());
  // names that are not a SHA-256 never reach the file system
  for (std::string name : {std::string("ABC"), std::string(64, 'A')}) {
    auto r = c->Put("/v1/blobs/" + name, "x", "application/octet-stream");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << name;
  }
  auto escape = c->Put("/v1/blobs/..%2f..%2fescape", "x", "application/octet-stream");
  ASSERT_TRUE(escape);
  EXPECT_EQ(escape->status, 404);  // decoded to a path with more slashes: no route
  EXPECT_EQ(files_in(t.dir / "blobs").size(), 1u);
}

TEST(Agent, OversizedUploadGets413BeforeTheBodyIsSent) {
  remote::AgentOptions o;
  o.max_body_bytes = 1000;
  TestAgent t("big", o);
  RawConn conn(t.port);
  std::string h = std::string(64, 'a');
  ASSERT_TRUE(conn.send("PUT /v1/blobs/" + h + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kToken +
                        "\r\nContent-Length: 1000000\r\n\r\n"));
  // no body sent: the answer must come anyway
  auto [status, body] = conn.response();
  EXPECT_EQ(status, 413);
  EXPECT_EQ(error_code(body), "too_large");
  EXPECT_NE(error_message(body).find("1000"), std::string::npos) << body;
  EXPECT_TRUE(files_in(t.dir / "blobs").empty());
  EXPECT_TRUE(files_in(t.dir / "tmp").empty());
  // and a client that sends Expect: 100-continue is refused before sending
  RawConn conn2(t.port);
  ASSERT_TRUE(conn2.send("PUT /v1/blobs/" + h + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kToken +
                         "\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n"));
  EXPECT_EQ(conn2.response().first, 413);
  // within the limit is fine
  std::string small = random_bytes(1000, 3);
  auto r = t.client()->Put("/v1/blobs/" + remote::sha256_hex(small), small, "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
}

TEST(Agent, UploadWithoutLengthGets411) {
  TestAgent t("nolength");
  std::string h = remote::sha256_hex("abc");
  RawConn conn(t.port);
  ASSERT_TRUE(conn.send("PUT /v1/blobs/" + h + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kToken + "\r\n\r\n"));
  auto [status, body] = conn.response();
  EXPECT_EQ(status, 411);
  EXPECT_EQ(error_code(body), "length_required");
  RawConn chunked(t.port);
  ASSERT_TRUE(chunked.send("PUT /v1/blobs/" + h + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kToken +
                           "\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
  EXPECT_EQ(chunked.response().first, 411);
  EXPECT_TRUE(files_in(t.dir / "blobs").empty());
}

TEST(Agent, TruncatedUploadLeavesNothing) {
  TestAgent t("truncated");
  std::string data = random_bytes(100000, 4);
  std::string h = remote::sha256_hex(data);
  {
    RawConn conn(t.port);
    ASSERT_TRUE(conn.send("PUT /v1/blobs/" + h + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kToken +
                          "\r\nContent-Length: 100000\r\n\r\n" + data.substr(0, 50000)));
    // the upload is in progress: a temporary file exists
    bool seen = false;
    for (int i = 0; i < 100 && !seen; ++i) {
      seen = !files_in(t.dir / "tmp").empty();
      if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(seen) << "no temporary file while the upload was in progress";
  }  // the client goes away halfway
  bool clean = false;
  for (int i = 0; i < 250 && !clean; ++i) {
    clean = files_in(t.dir / "tmp").empty();
    if (!clean) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(clean) << "a temporary file is left in tmp/";
  EXPECT_TRUE(files_in(t.dir / "blobs").empty());
  // the agent is still serving
  auto r = t.client()->Head("/v1/blobs/" + h);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST(Agent, SurvivesGarbage) {
  TestAgent t("garbage");
  {
    RawConn conn(t.port);
    conn.send("\x01\x02 NOT HTTP AT ALL\r\n\r\n");
    conn.response();
  }
  {
    RawConn conn(t.port);
    conn.send("GET /v1/info HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ");  // and hang up mid-header
  }
  {
    // a body for a path that takes none is refused before it is read (not buffered)
    RawConn conn(t.port);
    conn.send("PUT /v1/elsewhere HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kToken +
              "\r\nContent-Length: 100000000\r\n\r\n");
    auto [status, body] = conn.response();
    EXPECT_EQ(status, 404);
    EXPECT_EQ(error_code(body), "not_found");
  }
  auto r = t.client()->Get("/v1/info");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto nf = t.client()->Get("/v1/nothing/here");
  ASSERT_TRUE(nf);
  EXPECT_EQ(nf->status, 404);
  EXPECT_EQ(error_code(nf->body), "not_found");
}

// --- slow and idle clients -----------------------------------------------------

TEST(Agent, SlowAndIdleClientsDoNotKeepAValidRequestWaiting) {
  remote::AgentOptions o;
  o.connections.request_timeout_s = 3;
  o.connections.idle_timeout_s = 3;
  TestAgent t("slow", o);
  // 8 clients trickle header bytes (no token needed for that) and 8 say nothing
  auto held = test::hold_connections(t.port, 8, [&] {
    auto r = t.client()->Get("/v1/info");
    return r && r->status == 200;
  });
  test::expect_served_and_closed(held, 8, "the agent");
}

TEST(Agent, ConnectionsPerClientAreCapped) {
  remote::AgentOptions o;
  o.connections.max_per_client = 3;
  TestAgent t("cap", o);
  const std::string get = "GET /v1/info HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + kToken + "\r\n\r\n";
  std::vector<std::unique_ptr<RawConn>> open;
  for (int i = 0; i < 3; ++i) {  // served, and kept open (keep-alive)
    open.push_back(std::make_unique<RawConn>(t.port));
    ASSERT_TRUE(open.back()->send(get));
    EXPECT_EQ(open.back()->response().first, 200);
  }
  RawConn extra(t.port);
  ASSERT_TRUE(extra.send(get));
  auto [status, body] = extra.response();
  EXPECT_EQ(status, 503) << body;
  EXPECT_EQ(error_code(body), "busy");
  EXPECT_NE(error_message(body).find("too many connections from 127.0.0.1"), std::string::npos) << body;
  // once those have closed, the client is served again
  open.clear();
  int again = 0;
  for (int i = 0; i < 1200 && again != 200; ++i) {  // until the agent has seen them close (a guard against a hang)
    auto r = t.client()->Get("/v1/info");
    again = r ? r->status : 0;
    if (again != 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(again, 200);
}

// --- jobs: validation ----------------------------------------------------------

std::string upload(const TestAgent& t, const std::string& data) {
  std::string h = remote::sha256_hex(data);
  auto r = t.client()->Put("/v1/blobs/" + h, data, "application/octet-stream");
  EXPECT_TRUE(r && (r->status == 201 || r->status == 200));
  return h;
}

std::pair<int, std::string> post_job(const TestAgent& t, const std::string& body) {
  auto r = t.client()->Post("/v1/jobs", body, "application/json");
  if (!r) return {0, ""};
  return {r->status, r->body};
}

TEST(Agent, JobRequestParsesWithoutTheAgent) {
  // parse_job_request is the agent's parser on its own (no files, no server): the fuzz target's entry
  const std::string h(64, 'a'), g(64, 'b');
  json body = {{"kind", "bench"},
               {"model", {{"name", "m1"}, {"onnx", h}, {"test_data", {{{"set", 1}, {"kind", "label"}, {"blob", g}}}}}},
               {"options", {{"runs", 10}, {"rt", true}}}};
  remote::JobRequest r = remote::parse_job_request(body.dump(), {"native", "torch"});
  EXPECT_EQ(r.model, "m1");
  ASSERT_EQ(r.files.size(), 2u);
  EXPECT_EQ(r.files[0].dest, "model.onnx");
  EXPECT_EQ(r.files[0].blob, h);
  EXPECT_EQ(r.files[1].dest, "test_data_set_1/label.pb");
  EXPECT_EQ(r.files[1].field, "model.test_data[0].blob");
  EXPECT_EQ(r.backends, std::vector<std::string>{"native"});
  EXPECT_EQ(r.bench_args, (std::vector<std::string>{"--runs", "10", "--rt"}));
  body["options"]["backends"] = {"torch"};
  EXPECT_EQ(remote::parse_job_request(body.dump(), {"native", "torch"}).backends, std::vector<std::string>{"torch"});
  EXPECT_THROW(remote::parse_job_request(body.dump(), {"native"}), Error);
  EXPECT_THROW(remote::parse_job_request("{\"kind\": 1e400}", {"native"}), Error);
  EXPECT_THROW(remote::parse_job_request("\"\xff\"", {"native"}), Error);
}

TEST(Agent, BodyHeadersAndTokenAreCheckedWithoutTheAgent) {
  // check_body_request and bearer_token are the agent's checks on their own: the fuzz targets' entry.
  // Statuses from docs/remote-protocol.md: 404 for a route that takes no body, 411 without a length,
  // 413 over the limit, 400 for a length that is not a number or an encoding other than identity.
  const std::string blob = "/v1/blobs/" + std::string(64, 'a');
  remote::BodyLimits limits{1000, 5000};
  auto status = [&](const std::string& method, const std::string& path, std::optional<std::string> length,
                    bool chunked = false, const std::string& encoding = "") {
    remote::BodyCheck c = remote::check_body_request({method, path, chunked, length, encoding}, limits);
    return c.refusal ? c.refusal->status : 200;
  };
  EXPECT_EQ(status("PUT", blob, "5000"), 200);
  EXPECT_EQ(status("PUT", blob, "5001"), 413);
  EXPECT_EQ(status("POST", "/v1/jobs", "1001"), 413);  // a job has its own, smaller limit
  EXPECT_EQ(status("POST", "/v1/jobs", "0001000"), 200);
  EXPECT_EQ(status("PUT", blob, std::nullopt), 411);
  EXPECT_EQ(status("PUT", blob, "12", true), 411);
  EXPECT_EQ(status("PUT", blob, "-1"), 400);
  EXPECT_EQ(status("PUT", blob, "1e3"), 400);
  EXPECT_EQ(status("PUT", blob, "9999999999999999999"), 400);  // 19 digits: would overflow int64
  EXPECT_EQ(status("PUT", blob, "12", false, "gzip"), 400);
  EXPECT_EQ(status("PUT", blob, "12", false, "identity"), 200);
  EXPECT_EQ(status("POST", blob, "12"), 404);
  EXPECT_EQ(status("PUT", "/v1/jobs", "12"), 404);
  EXPECT_EQ(remote::check_body_request({"PUT", blob, false, "0042", ""}, limits).length, 42);

  EXPECT_EQ(remote::bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(remote::bearer_token("bEARER abc \t\r"), "abc");
  EXPECT_EQ(remote::bearer_token("Bearer "), "");
  EXPECT_EQ(remote::bearer_token("Basic abc"), "");
  EXPECT_EQ(remote::bearer_token("Bearerabc"), "");
}

TEST(Agent, JobValidationIsStrict) {
  remote::AgentOptions o;
  o.max_model_bytes = 5000;
  TestAgent t("validate", o);
  std::string onnx = upload(t, random_bytes(3000, 5));
  std::string big = upload(t, random_bytes(3000, 6));
  json good = {{"kind", "bench"}, {"model", {{"name", "m1"}, {"onnx", onnx}}}, {"options", {{"runs", 10}}}};

  auto expect_400 = [&](const std::string& body, const std::string& mention) {
    auto [status, answer] = post_job(t, body);
    EXPECT_EQ(status, 400) << body;
    EXPECT_EQ(error_code(answer), "bad_request");
    EXPECT_NE(error_message(answer).find(mention), std::string::npos)
        << "message '" << error_message(answer) << "' does not mention '" << mention << "'";
  };
  expect_400("{\"kind\": \"bench\", \"model\": ", "JSON");
  expect_400("[1, 2]", "object");
  // bytes that are not UTF-8 in a string, and a number beyond double's range:
  // 400 with a readable (UTF-8) message, not the 500 of an escaped exception
  expect_400("{\"kind\": \"bench\xff\xfe\", \"model\": {}}", "UTF-8");
  expect_400("{\"kind\": \"bench\", \"model\": {\"name\": \"m\", \"onnx\": \"" + onnx +
                 "\"}, \"options\": {\"runs\": 1e400}}",
             "1e400");
  auto with = [&](const json::json_pointer& p, const json& v) {
    json j = good;
    j[p] = v;
    return j.dump();
  };
  expect_400(with("/extra"_json_pointer, 1), "extra");
  expect_400(with("/model/path"_json_pointer, "/etc/passwd"), "model.path");
  expect_400(with("/options/turbo"_json_pointer, true), "options.turbo");
  expect_400(with("/options/runs"_json_pointer, "100"), "options.runs");
  expect_400(with("/options/runs"_json_pointer, 0), "options.runs");
  expect_400(with("/options/warmup"_json_pointer, 2.5), "options.warmup");
  expect_400(with("/options/rt"_json_pointer, 1), "options.rt");
  expect_400(with("/options/backends"_json_pointer, json::array({"native", "tensorrt"})), "tensorrt");
  expect_400(with("/model/name"_json_pointer, "../../etc"), "model.name");
  expect_400(with("/model/name"_json_pointer, ""), "model.name");
  expect_400(with("/model/onnx"_json_pointer, "ABC"), "model.onnx");
  expect_400(with("/kind"_json_pointer, "shell"), "kind");
  {
    json j = good;
    j["options"]["seconds"] = 1;
    expect_400(j.dump(), "choose one");
  }
  {
    json j = good;
    j["model"].erase("onnx");
    expect_400(j.dump(), "model.onnx");
  }
  {
    json j = good;
    j["model"]["test_data"] = {{{"set", 0}, {"kind", "input"}, {"index", 0}, {"blob", onnx}, {"path", "x"}}};
    expect_400(j.dump(), "model.test_data[0].path");
    j["model"]["test_data"] = {{{"set", 0}, {"kind", "input"}, {"blob", onnx}}};
    expect_400(j.dump(), "model.test_data[0].index");
    j["model"]["test_data"] = {{{"set", -1}, {"kind", "input"}, {"index", 0}, {"blob", onnx}}};
    expect_400(j.dump(), "model.test_data[0].set");
    j["model"]["test_data"] = {{{"set", 0}, {"kind", "label"}, {"blob", onnx}},
                               {{"set", 0}, {"kind", "label"}, {"blob", onnx}}};
    expect_400(j.dump(), "second time");
  }
  // a blob the agent does not have: named
  std::string missing = remote::sha256_hex("not uploaded");
  expect_400(with("/model/onnx"_json_pointer, missing), missing);
  // over the model limit (3000 + 3000 > 5000): 413
  {
    json j = good;
    j["model"]["torchscript"] = big;
    auto [status, answer] = post_job(t, j.dump());
    EXPECT_EQ(status, 413) << answer;
    EXPECT_EQ(error_code(answer), "too_large");
  }
  // no job folder was left behind by any of these
  EXPECT_TRUE(files_in(t.dir / "jobs").empty());
  // the agent is still fine
  EXPECT_EQ(t.client()->Get("/v1/info")->status, 200);
  auto nf = t.client()->Get("/v1/jobs/0123456789abcdef");
  ASSERT_TRUE(nf);
  EXPECT_EQ(nf->status, 404);
}

// --- jobs: running -------------------------------------------------------------

// Polls the job until it has ended. Every job ends by itself: the agent
// stops it at its time limit (600 s unless a test sets it), so the guard here
// only turns a hang into a failure; it is no speed limit.
json wait_job(const TestAgent& t, const std::string& id) {
  auto c = t.client();
  const double max_seconds = t.agent->options().job_timeout_s + 300;
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(max_seconds);
  json j;
  while (std::chrono::steady_clock::now() < until) {
    auto r = c->Get("/v1/jobs/" + id);
    if (!r || r->status != 200) {
      ADD_FAILURE() << "GET /v1/jobs/" << id << ": " << (r ? r->body : "no answer");
      return j;
    }
    j = json::parse(r->body);
    std::string s = j["state"];
    if (s != "queued" && s != "running") return j;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "job " << id << " still " << j.dump() << " after " << max_seconds << " s";
  return j;
}

// A stand-in for rtml: a shell script (jobs run whatever rtml_exe names).
fs::path script(const std::string& name, const std::string& body) {
  fs::path p = fresh_dir(name);
  std::ofstream(p) << "#!/bin/sh\n" << body;
  ::chmod(p.c_str(), 0755);
  return p;
}

bool process_alive(pid_t pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

TEST(AgentJobs, ChildWithoutAReportIsFailedWithItsStderr) {
  fs::path exe = script("fails.sh", "echo 'something went wrong on the board' >&2\nexit 3\n");
  remote::AgentOptions o;
  o.rtml_exe = exe.string();
  TestAgent t("failed", o);
  json model = {{"name", "x"}, {"onnx", upload(t, "not really onnx")}};
  auto [status, answer] = post_job(t, json{{"kind", "bench"}, {"model", model}}.dump());
  ASSERT_EQ(status, 202) << answer;
  json j = wait_job(t, json::parse(answer)["job"]);
  EXPECT_EQ(j["state"], "failed");
  std::string err = j["error"];
  EXPECT_NE(err.find("status 3"), std::string::npos) << err;
  EXPECT_NE(err.find("something went wrong on the board"), std::string::npos) << err;
  EXPECT_EQ(j["progress"], "something went wrong on the board");
  fs::remove(exe);
}

TEST(AgentJobs, FinishedJobsBeyondKeepJobsAreForgotten) {
  fs::path exe = script("quick.sh", "exit 3\n");
  remote::AgentOptions o;
  o.rtml_exe = exe.string();
  o.keep_jobs = 1;
  TestAgent t("prune", o);
  json model = {{"name", "x"}, {"onnx", upload(t, "bytes")}};
  std::string first = json::parse(post_job(t, json{{"kind", "bench"}, {"model", model}}.dump()).second)["job"];
  EXPECT_EQ(wait_job(t, first)["state"], "failed");
  EXPECT_TRUE(fs::exists(t.dir / "jobs" / first));
  std::string second = json::parse(post_job(t, json{{"kind", "bench"}, {"model", model}}.dump()).second)["job"];
  EXPECT_EQ(wait_job(t, second)["state"], "failed");
  auto r = t.client()->Get("/v1/jobs/" + first);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_FALSE(fs::exists(t.dir / "jobs" / first));  // its folder went with it
  EXPECT_EQ(t.client()->Get("/v1/jobs/" + second)->status, 200);
  fs::remove(exe);
}

// A stand-in for rtml that never ends by itself: it writes its own pid and
// its child's (a `sleep` of an hour) to `pids`, says it is working, and waits.
fs::path never_ending_job(const std::string& name, const fs::path& pids) {
  return script(name, "echo $$ > " + pids.string() + "\nsleep 3600 &\necho $! >> " + pids.string() +
                          "\necho 'working...' >&2\nwait\n");
}

// The two pids never_ending_job wrote, once it has (empty if it never did).
std::vector<pid_t> job_pids(const fs::path& pids) {
  std::vector<pid_t> running;
  for (int i = 0; i < 6000 && running.size() < 2; ++i) {  // a guard against a hang
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    running.clear();
    std::ifstream in(pids);
    for (pid_t p; in >> p;) running.push_back(p);
  }
  return running;
}

// True once none of `pids` runs (a killed job's orphaned `sleep` is reaped by
// init a moment after the kill).
bool all_gone(const std::vector<pid_t>& pids) {
  for (int i = 0; i < 3000; ++i) {  // a guard against a hang
    if (std::none_of(pids.begin(), pids.end(), process_alive)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TEST(AgentJobs, StoppingTheAgentKillsARunningJobAndItsChildren) {
  fs::path pids = fresh_dir("pids");
  fs::path exe = never_ending_job("sleeps.sh", pids);
  remote::AgentOptions o;
  o.rtml_exe = exe.string();
  auto t = std::make_unique<TestAgent>("stop", o);
  json model = {{"name", "x"}, {"onnx", upload(*t, "bytes")}};
  auto [status, answer] = post_job(*t, json{{"kind", "bench"}, {"model", model}}.dump());
  ASSERT_EQ(status, 202) << answer;
  std::vector<pid_t> running = job_pids(pids);
  ASSERT_EQ(running.size(), 2u) << "the job's script did not start";
  EXPECT_TRUE(process_alive(running[0]) && process_alive(running[1]));
  t.reset();  // stop(): it returns only once the job's process is gone, and the job never ends by itself
  EXPECT_TRUE(all_gone(running)) << "the job's processes outlived the agent";
  fs::remove(exe);
  fs::remove(pids);
}

TEST(AgentJobs, JobOverItsTimeLimitIsKilledAndReportedAsTimeout) {
  // The job never ends by itself, so the only way it stops is the agent's limit.
  fs::path pids = fresh_dir("timeout_pids");
  fs::path exe = never_ending_job("never_ends.sh", pids);
  remote::AgentOptions o;
  o.rtml_exe = exe.string();
  o.job_timeout_s = 2;
  o.max_queue = 1;
  TestAgent t("timeout", o);
  json model = {{"name", "forever"}, {"onnx", upload(t, "bytes")}};
  auto [status, answer] = post_job(t, json{{"kind", "bench"}, {"model", model}}.dump());
  ASSERT_EQ(status, 202) << answer;
  // the queue holds one job: a second is refused
  auto [status2, answer2] = post_job(t, json{{"kind", "bench"}, {"model", model}}.dump());
  EXPECT_EQ(status2, 429) << answer2;
  EXPECT_EQ(error_code(answer2), "queue_full");
  std::vector<pid_t> running = job_pids(pids);
  ASSERT_EQ(running.size(), 2u) << "the job's script did not start";
  json j = wait_job(t, json::parse(answer)["job"]);
  EXPECT_EQ(j["state"], "timeout") << j.dump(1);
  EXPECT_NE(j["error"].get<std::string>().find("2 s"), std::string::npos) << j["error"];
  EXPECT_TRUE(j["report"].is_null());
  EXPECT_TRUE(all_gone(running)) << "the job's processes outlived its time limit";
  // the queue has room again
  fs::remove(pids);
  auto [status3, answer3] = post_job(t, json{{"kind", "bench"}, {"model", model}}.dump());
  EXPECT_EQ(status3, 202) << answer3;
  EXPECT_EQ(wait_job(t, json::parse(answer3)["job"])["state"], "timeout");
  fs::remove(exe);
  fs::remove(pids);
}

#if defined(RTML_CLI_PATH) && defined(RTML_ZOO_TEST_DIR)

// The matvec_16 zoo model and its test data, uploaded; the job's "model".
json upload_matvec(const TestAgent& t, const std::string& label) {
  fs::path d = fs::path(RTML_ZOO_TEST_DIR) / "matvec_16";
  json model = {{"name", label}, {"onnx", upload(t, read_file(d / "model.onnx"))}, {"test_data", json::array()}};
  for (int set = 0; fs::exists(d / ("test_data_set_" + std::to_string(set))); ++set) {
    fs::path s = d / ("test_data_set_" + std::to_string(set));
    for (int i = 0; fs::exists(s / ("input_" + std::to_string(i) + ".pb")); ++i)
      model["test_data"].push_back({{"set", set}, {"kind", "input"}, {"index", i},
                                    {"blob", upload(t, read_file(s / ("input_" + std::to_string(i) + ".pb")))}});
    for (int i = 0; fs::exists(s / ("output_" + std::to_string(i) + ".pb")); ++i)
      model["test_data"].push_back({{"set", set}, {"kind", "output"}, {"index", i},
                                    {"blob", upload(t, read_file(s / ("output_" + std::to_string(i) + ".pb")))}});
    if (fs::exists(s / "label.pb"))
      model["test_data"].push_back({{"set", set}, {"kind", "label"}, {"blob", upload(t, read_file(s / "label.pb"))}});
  }
  EXPECT_FALSE(model["test_data"].empty()) << "no test data in " << d;
  return model;
}

TEST(AgentJobs, BenchOfAZooModelPassesAccuracy) {
  TestAgent t("job");
  json model = upload_matvec(t, "matvec_16");
  auto [status, answer] = post_job(t, json{{"kind", "bench"}, {"model", model}, {"options", {{"warmup", 5}, {"runs", 50}}}}.dump());
  ASSERT_EQ(status, 202) << answer;
  json a = json::parse(answer);
  EXPECT_EQ(a["state"], "queued");
  EXPECT_EQ(a["job"].get<std::string>().size(), 16u);
  json j = wait_job(t, a["job"]);
  ASSERT_EQ(j["state"], "done") << j.dump(1);
  EXPECT_TRUE(j["error"].is_null());
  EXPECT_TRUE(j["started"].is_string());
  EXPECT_TRUE(j["finished"].is_string());
  const json& report = j["report"];
  EXPECT_EQ(report["schema"], "rtml.bench/1");
  ASSERT_EQ(report["runs"].size(), 1u);
  const json& run = report["runs"][0];
  EXPECT_EQ(run["model"], "matvec_16");
  EXPECT_EQ(run["backend"], "native");
  EXPECT_EQ(run["status"], "ok");
  EXPECT_EQ(run["accuracy"]["passed"], true);
  EXPECT_GE(run["accuracy"]["sets"].get<int>(), 1);
  EXPECT_EQ(report["options"]["runs"], 50);
}

TEST(AgentJobs, TwoClientsAtOnceGetTheirOwnAnswers) {
  TestAgent t("concurrent");
  struct Outcome {
    std::string blob_hash, stored, job_state, model, error;
    int runs = 0;
  };
  Outcome out[2];
  auto client_thread = [&](int k) {
    Outcome& o = out[k];
    std::string data = random_bytes(2000000 + 1000 * k, 10 + k);  // big enough to interleave
    o.blob_hash = upload(t, data);
    o.stored = read_file(t.dir / "blobs" / o.blob_hash) == data ? "same" : "different";
    std::string label = k == 0 ? "client_a" : "client_b";
    json model = upload_matvec(t, label);
    int runs = k == 0 ? 20 : 30;
    auto [status, answer] = post_job(t, json{{"kind", "bench"}, {"model", model}, {"options", {{"runs", runs}}}}.dump());
    if (status != 202) {
      o.error = answer;
      return;
    }
    json j = wait_job(t, json::parse(answer)["job"]);
    o.job_state = j["state"];
    if (j["report"].is_object()) {
      o.model = j["report"]["runs"][0]["model"];
      o.runs = j["report"]["options"]["runs"];
    }
  };
  std::thread a(client_thread, 0), b(client_thread, 1);
  a.join();
  b.join();
  for (int k = 0; k < 2; ++k) {
    EXPECT_EQ(out[k].error, "");
    EXPECT_EQ(out[k].stored, "same");
    EXPECT_EQ(out[k].job_state, "done");
  }
  EXPECT_NE(out[0].blob_hash, out[1].blob_hash);
  EXPECT_EQ(out[0].model, "client_a");
  EXPECT_EQ(out[1].model, "client_b");
  EXPECT_EQ(out[0].runs, 20);
  EXPECT_EQ(out[1].runs, 30);
}

#endif  // RTML_CLI_PATH && RTML_ZOO_TEST_DIR

}  // namespace

#endif  // RTML_WITH_REMOTE
