# Import loops between the modules of each crate (use crate::X / crate::X:: outside
# comments and #[cfg(test)]): python3 scripts/modloops.py, from the repository root.
import re,os,sys,itertools
for crate in sorted(os.listdir('crates')):
    src=f'crates/{crate}/src'
    mods={}
    for f in os.listdir(src):
        p=os.path.join(src,f)
        if f.endswith('.rs') and f not in('lib.rs','main.rs'):
            name=f[:-3]; files=[p]
            d=os.path.join(src,name)
            if os.path.isdir(d): files+= [os.path.join(dp,x) for dp,_,xs in os.walk(d) for x in xs if x.endswith('.rs')]
            mods[name]=files
        elif os.path.isdir(p) and not os.path.exists(p+'.rs'):
            mods[f]=[os.path.join(dp,x) for dp,_,xs in os.walk(p) for x in xs if x.endswith('.rs')]
    g={m:set() for m in mods}
    for m,files in mods.items():
        for p in files:
            t=open(p).read()
            t=t.split("#[cfg(test)]")[0]; t=re.sub(r"//.*","",t)
            for o in mods:
                if o!=m and re.search(r'\bcrate::(\{[^}]*\b)?'+o+r'\b',t): g[m].add(o)
    # find cycles (pairs and longer) via DFS
    cyc=set()
    def dfs(s,cur,path):
        for n in g[cur]:
            if n==s: cyc.add(tuple(sorted(path)))
            elif n not in path and len(path)<6: dfs(s,n,path+[n])
    for s in g: dfs(s,s,[s])
    print(crate, 'cycles:', sorted(cyc) if cyc else 'none')
