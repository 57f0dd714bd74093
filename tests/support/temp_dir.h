// The one temporary folder every test uses, and reading a file whole.
#pragma once

#include <filesystem>
#include <string>

namespace agni::testing {

// A fresh folder under the system temp directory, removed with the object.
// Not thread-safe to destroy while another thread writes into it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string File(const std::string& name) const {
    return (path_ / name).string();
  }
  // Writes `name` (creating its parent folders); returns its path.
  std::string Write(const std::string& name, const std::string& content) const;
  // Creates the folder `name` (and its parents); returns its path.
  std::string Mkdir(const std::string& name) const;
  // The whole file `name` in the folder, or "" when it does not exist.
  std::string Read(const std::string& name) const;

 private:
  std::filesystem::path path_;
};

// The bytes of the file at `path`, or "" when it cannot be read.
std::string ReadFile(const std::string& path);
// Creates or replaces the file at `path`.
void WriteFile(const std::string& path, const std::string& content);

}  // namespace agni::testing
