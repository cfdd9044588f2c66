// sqnn_tb: streaming testbench for sqnn_core (fixed, never generated; used by fpga.simulate).
//
// Plusargs:  +vectors=<file>  one hex input vector per line (in_features, feature 0 in the low bits)
//            +out=<file>      written: "I <cycle>" per input and "O <cycle> <out_score hex> <out_class hex>"
//                             per output (the cycle difference of matching lines is the latency)
//            +gap=<G>         optional: hold in_valid low for one clock after every G inputs (0 = never)
// The class index out_index is checked against out_class here (an ERROR line fails fpga.simulate).
// One vector enters per clock; the run ends LATENCY + 4 clocks after the last input.
`timescale 1ns / 1ps
`default_nettype none
module sqnn_tb;
  /* verilator lint_off UNUSEDPARAM */
  `include "sqnn_params.vh"
  /* verilator lint_on UNUSEDPARAM */

  reg                               clk = 1'b0;
  reg                               rst = 1'b1;
  reg                               in_valid = 1'b0;
  reg  [N_FEATURES*FEATURE_BITS-1:0] in_features = {N_FEATURES*FEATURE_BITS{1'b0}};
  wire                              out_valid;
  wire [N_OUT*SCORE_BITS-1:0]       out_score;
  wire [N_OUT-1:0]                  out_class;
  wire [INDEX_BITS-1:0]             out_index;
  localparam [N_OUT-1:0]            ONE_HOT0 = 1;

  sqnn_core dut (.clk(clk), .rst(rst), .in_valid(in_valid), .in_features(in_features),
                 .out_valid(out_valid), .out_score(out_score), .out_class(out_class),
                 .out_index(out_index));

  always #5 clk = ~clk;

  reg [N_FEATURES*FEATURE_BITS-1:0] vec;
  reg [8*1024-1:0] vec_path, out_path;
  integer fin, fout, status, gap, since_gap, cycle, tail;
  reg done;

  initial begin
    if (!$value$plusargs("vectors=%s", vec_path)) begin
      $display("sqnn_tb: ERROR missing +vectors=<file>");
      $finish;
    end
    if (!$value$plusargs("out=%s", out_path)) begin
      $display("sqnn_tb: ERROR missing +out=<file>");
      $finish;
    end
    if (!$value$plusargs("gap=%d", gap)) gap = 0;
    fin = $fopen(vec_path, "r");
    fout = $fopen(out_path, "w");
    if (fin == 0 || fout == 0) begin
      $display("sqnn_tb: ERROR cannot open the vector or output file");
      $finish;
    end
    cycle = 0; since_gap = 0; tail = 0; done = 1'b0;
  end

  always @(posedge clk) begin
    cycle <= cycle + 1;
    if (rst) begin
      if (cycle >= 3) rst <= 1'b0;
    end else begin
      if (out_valid) begin
        $fwrite(fout, "O %0d %h %h\n", cycle, out_score, out_class);
        // the class index must agree with the class bits (N_OUT = 1: equal; N_OUT >= 2: one-hot code)
        if ((N_OUT == 1) ? (out_index[0] != out_class[0]) : (out_class != (ONE_HOT0 << out_index)))
          $display("sqnn_tb: ERROR out_index %0d disagrees with out_class %h", out_index, out_class);
      end
      if (done) begin
        in_valid <= 1'b0;
        tail <= tail + 1;
        if (tail > LATENCY + 4) begin
          $fclose(fout);
          $finish;
        end
      end else if (gap > 0 && since_gap == gap) begin
        in_valid <= 1'b0;
        since_gap <= 0;
      end else begin
        status = $fscanf(fin, "%h\n", vec);
        if (status == 1) begin
          in_valid <= 1'b1;
          in_features <= vec;
          $fwrite(fout, "I %0d\n", cycle);
          since_gap <= since_gap + 1;
        end else begin
          in_valid <= 1'b0;
          done <= 1'b1;
        end
      end
    end
  end
endmodule
`default_nettype wire
