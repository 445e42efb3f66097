/* SPDX-License-Identifier: Apache-2.0 */
/* Subcommands of the clsp tool. Each returns the process exit status. */
#ifndef CLSP_TOOL_H
#define CLSP_TOOL_H

int clsp_cmd_info(int argc, char **argv);
int clsp_cmd_matrix(int argc, char **argv);
int clsp_cmd_warmup(int argc, char **argv);
int clsp_cmd_bench(int argc, char **argv);
int clsp_cmd_conv(int argc, char **argv);
int clsp_cmd_pool(int argc, char **argv);

/* Monotonic wall clock in milliseconds. */
double clsp_tool_now_ms(void);

#endif
