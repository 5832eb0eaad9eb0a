# Your own settings for `surface-pro-8`.
# tabula created this file once and never overwrites it: edit it freely.
{ config, lib, pkgs, ... }:
{
}
