// A minimal HTTP/1.0 GET over loopback, for the tests of the metrics
// endpoints (`--metrics 127.0.0.1:PORT`): enough to read a scrape, nothing
// more.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <string>

#include "lcfs/unique_fd.h"

namespace lcfs::testing {

// GET `path` from 127.0.0.1:`port` in the caller's network namespace: the
// whole response (status line, headers and body), or "" when the connection
// fails. A server that stops answering fails the read after 10 s instead of
// hanging the test.
inline std::string HttpGetLoopback(int port, const std::string& path = "/metrics") {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return "";
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) < 0) return "";
  std::string response;
  char buf[16384];
  ssize_t n;
  while ((n = ::recv(fd.get(), buf, sizeof buf, 0)) > 0)
    response.append(buf, static_cast<size_t>(n));
  return response;
}

}  // namespace lcfs::testing
