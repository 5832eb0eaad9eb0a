import re,sys,os
# Measure function lengths (lines from `fn` line to its closing brace, inclusive) in product code:
# skips everything from a `#[cfg(test)]` line onward, and tests/ dirs.
fnre=re.compile(r'^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)')
def strip(line):
    # remove strings, chars, line comments crudely
    line=re.sub(r'//.*','',line)
    line=re.sub(r'"(\\.|[^"\\])*"','""',line)
    line=re.sub(r"'(\\.|[^'\\])'","''",line)
    return line
res=[]
for root in sys.argv[1:]:
  for dp,dn,fns in os.walk(root):
    if '/tests' in dp or 'target' in dp: continue
    for f in fns:
      if not f.endswith('.rs'): continue
      p=os.path.join(dp,f); L=open(p).read().split('\n')
      end=len(L)
      for i,l in enumerate(L):
        if l.strip().startswith('#[cfg(test)]'): end=i;break
      i=0
      while i<end:
        m=fnre.match(L[i])
        if m:
          depth=0; started=False; j=i; inraw=False
          while j<end:
            s=strip(L[j])
            if not started and ';' in s and '{' not in s and depth==0: break
            for c in s:
              if c=='{': depth+=1; started=True
              elif c=='}': depth-=1
            if started and depth<=0: break
            j+=1
          if started: res.append((j-i+1,p,i+1,m.group(6)))
        i+=1
res.sort(reverse=True)
lim=int(os.environ.get('LIM','80'))
for n,p,l,name in res:
  if n>lim: print(n,f'{p}:{l}',name)
print('over',lim,':',sum(1 for r in res if r[0]>lim),' max:',res[0][0] if res else 0)
