// Every way a safetensors file can be malformed, with the exact message the reader gives.
// The checks are huggingface/safetensors' (tensor.rs read_metadata and Metadata::validate);
// the messages add the file, the tensor and the numbers involved.
#include <gtest/gtest.h>

#include "ftengine/io/safetensors.hpp"
#include "tests/sdk/io/test_util.hpp"

namespace ft::io {
namespace {

using ft::testing::error_or_empty;
using ft::testing::le64;
using ft::testing::raw_file;
using ft::testing::TempDir;
using ft::testing::write_bytes;

class SafetensorsValidation : public ::testing::Test {
 protected:
  // Writes `bytes` to a file and returns the message opening it throws ("" if none).
  std::string open_error(const std::string& bytes) {
    write_bytes(path(), bytes);
    return error_or_empty([&] { SafetensorsFile file(path()); });
  }
  std::string path() const { return (dir_ / "bad.safetensors").string(); }

 private:
  TempDir dir_;
};

TEST_F(SafetensorsValidation, AcceptsAWellFormedFile) {
  EXPECT_EQ(open_error(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8)),
            "");
}

TEST_F(SafetensorsValidation, FileShorterThanTheHeaderLength) {
  EXPECT_EQ(open_error("12345"),
            path() + ": not a safetensors file: 5 bytes, shorter than the 8-byte header length");
  EXPECT_EQ(open_error(""),
            path() + ": not a safetensors file: 0 bytes, shorter than the 8-byte header length");
}

TEST_F(SafetensorsValidation, HeaderLengthTooBig) {
  EXPECT_EQ(open_error(le64(100'000'001) + "{}"),
            path() +
                ": header length 100000001 exceeds the limit of 100000000 bytes: a corrupt "
                "or non-safetensors file");
}

TEST_F(SafetensorsValidation, HeaderRunsPastTheEndOfTheFile) {
  EXPECT_EQ(open_error(le64(1000) + "{\"a\":"),
            path() +
                ": header length 1000 runs past the end of the file (13 bytes): the file is "
                "truncated");
}

TEST_F(SafetensorsValidation, BadJson) {
  EXPECT_EQ(open_error(raw_file("{\"a\": {\"dtype\": }", 0)),
            path() + ": header is not valid JSON (error at byte 17 of 17)");
  EXPECT_EQ(open_error(raw_file("[1, 2]", 0)),
            path() + ": header must be a JSON object, found array");
}

TEST_F(SafetensorsValidation, MetadataMustMapStringsToStrings) {
  EXPECT_EQ(open_error(raw_file(R"({"__metadata__":{"format":"pt","step":3}})", 0)),
            path() + ": __metadata__ must map strings to strings: \"step\" holds a number");
  EXPECT_EQ(open_error(raw_file(R"({"__metadata__":["pt"]})", 0)),
            path() + ": __metadata__ must be an object of strings, found array");
}

TEST_F(SafetensorsValidation, UnknownDtype) {
  EXPECT_EQ(open_error(raw_file(R"({"w":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}})", 8)),
            path() +
                ": tensor \"w\": unknown dtype \"F31\" (known: BOOL F4 F6_E2M3 F6_E3M2 U8 I8 "
                "F8_E5M2 F8_E4M3 F8_E8M0 I16 U16 F16 BF16 I32 U32 F32 C64 F64 I64 U64)");
}

TEST_F(SafetensorsValidation, MalformedTensorEntries) {
  EXPECT_EQ(open_error(raw_file(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8)),
            path() + ": tensor \"w\": \"shape\" must be an array of non-negative integers");
  EXPECT_EQ(open_error(raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8)),
            path() +
                ": tensor \"w\": \"data_offsets\" must be [begin, end], two non-negative "
                "integers");
  EXPECT_EQ(open_error(raw_file(R"({"w":{"dtype":"F32","shape":[2]}})", 8)),
            path() +
                ": tensor \"w\": \"data_offsets\" must be [begin, end], two non-negative "
                "integers");
  EXPECT_EQ(open_error(raw_file(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", 8)),
            path() + ": tensor \"w\": \"dtype\" must be a string");
  EXPECT_EQ(open_error(raw_file(R"({"w":[1]})", 8)),
            path() + ": tensor \"w\": expected an object, found array");
  EXPECT_EQ(open_error(raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8)),
            path() + ": tensor \"w\": data_offsets [8, 0] end before they begin");
}

TEST_F(SafetensorsValidation, OffsetsOutOfBounds) {
  EXPECT_EQ(open_error(raw_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 12)),
            path() +
                ": tensor \"w\": data_offsets [0, 16] run past the end of the data section "
                "(12 bytes): the file is truncated or the offsets are wrong");
}

TEST_F(SafetensorsValidation, TruncatedData) {
  // A good file with its last 3 bytes cut off.
  const std::string good = raw_file(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
      16);
  EXPECT_EQ(open_error(good.substr(0, good.size() - 3)),
            path() +
                ": tensor \"b\": data_offsets [8, 16] run past the end of the data section "
                "(13 bytes): the file is truncated or the offsets are wrong");
}

TEST_F(SafetensorsValidation, OverlappingTensors) {
  EXPECT_EQ(
      open_error(raw_file(
          R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
          12)),
      path() + ": tensor \"b\": data_offsets [4, 12] overlap tensor \"a\" [0, 8]");
}

TEST_F(SafetensorsValidation, GapBetweenTensors) {
  EXPECT_EQ(
      open_error(raw_file(
          R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
          20)),
      path() +
          ": tensor \"b\": data_offsets [12, 20] leave a gap of 4 bytes after tensor \"a\" "
          "[0, 8]");
  EXPECT_EQ(open_error(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12)),
            path() +
                ": tensor \"a\": data_offsets [4, 12] leave a gap of 4 bytes at the start of "
                "the data section");
}

TEST_F(SafetensorsValidation, BytesAfterTheLastTensor) {
  EXPECT_EQ(open_error(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 12)),
            path() +
                ": 4 bytes after the last tensor: the data section (12 bytes) must end where "
                "the tensors end (8)");
}

TEST_F(SafetensorsValidation, SizeDoesNotMatchShapeAndDtype) {
  EXPECT_EQ(open_error(raw_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)),
            path() +
                ": tensor \"w\": data_offsets [0, 8] hold 8 bytes, but shape [3] of F32 needs "
                "12");
  EXPECT_EQ(open_error(raw_file(R"({"w":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,4]}})", 4)),
            path() +
                ": tensor \"w\": data_offsets [0, 4] hold 4 bytes, but shape [2, 2] of BF16 "
                "needs 8");
  // Sub-byte dtypes must fill whole bytes.
  EXPECT_EQ(open_error(raw_file(R"({"w":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", 2)),
            path() + ": tensor \"w\": 3 elements of F4 do not fill whole bytes");
  EXPECT_EQ(open_error(raw_file(R"({"w":{"dtype":"F4","shape":[4],"data_offsets":[0,2]}})", 2)),
            "");
}

TEST_F(SafetensorsValidation, ShapeOverflow) {
  EXPECT_EQ(
      open_error(raw_file(
          R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8)),
      path() + ": tensor \"w\": shape overflows 64 bits");
}

}  // namespace
}  // namespace ft::io
